"""Checks of what the schema does not enforce: side rows whose user is gone.

The side tables carry no foreign key to ``users`` (``tables`` module docstring, migration
0008); the repositories keep them consistent. ``orphan_side_rows`` is how that is verified:
by ``bookplate db check`` and after every storage test.
"""

from __future__ import annotations

from sqlalchemy import Connection, exists, func, select

from bookplate.storage import tables as t

SIDE_TABLES = (t.user_ids, t.user_identifiers, t.user_terms, t.sis_fingerprints)


def orphan_side_rows(conn: Connection) -> dict[str, int]:
    """Rows of each side table whose ``user_pk`` names no user (only tables that have any)."""
    users = t.users
    out: dict[str, int] = {}
    for table in SIDE_TABLES:
        gone = ~exists().where(users.c.id == table.c.user_pk)
        count = conn.execute(select(func.count()).select_from(table).where(gone)).scalar_one()
        if count:
            out[table.name] = int(count)
    return out
