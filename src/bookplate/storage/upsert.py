"""INSERT ... ON CONFLICT for the two supported dialects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    *,
    keep: Sequence[str] = (),
    nothing: bool = False,
) -> Any:
    """Insert ``values``; on a clash of ``keys`` overwrite the other columns except ``keep``
    (or do nothing when ``nothing``)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(dict(values))
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(dict(values))
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(dialect)
    update = {k: stmt.excluded[k] for k in values if k not in keys and k not in keep}
    if nothing or not update:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
