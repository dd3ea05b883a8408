"""PostgreSQL type names for a binary COPY into a table's columns, read off ``tables``.

A binary COPY (``FORMAT BINARY`` with psycopg's ``set_types``) costs about half the Python
time of a text one per row: values are packed, not escaped into text (docs/benchmarks.md).
JSON columns take their document's text as it is (the binary form of ``json`` is its text),
so rows hold JSON text there, never Python objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

from bookplate.storage import tables as t

# Tables made ``LIKE`` another (the SIS update rows) take that table's column types.
_LIKE = {"sis_user_updates": "users"}


def _type_name(column_type: TypeEngine[Any]) -> str:
    # A column declared with a PostgreSQL variant is COPYed as that variant.
    column_type = column_type._variant_mapping.get("postgresql", column_type)
    if isinstance(column_type, ARRAY):
        return _type_name(column_type.item_type) + "[]"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, String | JSON):
        return "text"
    raise TypeError(f"no binary COPY type for {column_type!r}")


@lru_cache(maxsize=64)
def copy_types(table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The type names of ``columns`` of ``table`` for ``Copy.set_types``."""
    found = t.metadata.tables[_LIKE.get(table, table)]
    return tuple(_type_name(found.c[name].type) for name in columns)


def copy_binary(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY ``rows`` (values in ``columns`` order) into ``table`` on a psycopg cursor, in the
    binary format with the types of ``copy_types``."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with cursor.copy(statement) as copy:
        copy.set_types(copy_types(table, tuple(columns)))
        for row in rows:
            copy.write_row(row)
