"""What every table module shares: the metadata (Alembic compares the migrations with it) and
the column and index helpers."""

from __future__ import annotations

from sqlalchemy import Index, MetaData, String, text
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def ctext(length: int) -> TypeEngine[str]:
    """A string compared byte-wise: COLLATE "C" on PostgreSQL, SQLite's default BINARY."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def partial_index(name: str, *columns: str) -> Index:
    """An index over the rows whose first column is not NULL (both databases)."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)
