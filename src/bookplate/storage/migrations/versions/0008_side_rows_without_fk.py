"""Side tables without foreign keys; partial indexes on mostly-NULL user columns.

``user_ids``, ``user_identifiers``, ``user_terms`` and ``sis_fingerprints`` lose their foreign
key to ``users``. Every row of theirs is written by a repository in the transaction that
writes its user, and the repositories delete them with the user. On PostgreSQL the key cost
each inserted side row a look-up that also locked the user's row (``FOR KEY SHARE``): about
half of the database's work in an SIS load of new users (docs/benchmarks.md).

``ix_users_linking_id``, ``ix_users_source`` and ``ix_users_purge_date`` keep only the rows
whose first column is set (linked accounts, users with a purge date): every other write
skips them. Queries on these columns compare with a value, which implies NOT NULL, so both
databases still use them.

SQLite cannot drop a constraint: its tables are copied (Alembic's batch mode).

Revision ID: 0008_side_rows_without_fk
Revises: 0007_user_terms_order_key
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_side_rows_without_fk"
down_revision = "0007_user_terms_order_key"
branch_labels = None
depends_on = None

_FOREIGN_KEYS = (
    ("user_ids", "fk_user_ids_user_pk_users"),
    ("user_identifiers", "fk_user_identifiers_user_pk_users"),
    ("user_terms", "fk_user_terms_user_pk_users"),
    ("sis_fingerprints", "fk_sis_fingerprints_user_pk_users"),
)
_PARTIAL = (
    ("ix_users_linking_id", ("linking_id",)),
    ("ix_users_source", ("source_institution_code", "source_link_id")),
    ("ix_users_purge_date", ("purge_date",)),
)


def _create_indexes(partial: bool) -> None:
    for name, columns in _PARTIAL:
        where = sa.text(f"{columns[0]} IS NOT NULL") if partial else None
        op.create_index(
            name, "users", list(columns), postgresql_where=where, sqlite_where=where
        )


def upgrade() -> None:
    for name, _columns in _PARTIAL:
        op.drop_index(name, table_name="users")
    _create_indexes(partial=True)
    if op.get_bind().dialect.name == "sqlite":
        for table, constraint in _FOREIGN_KEYS:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.drop_constraint(constraint, type_="foreignkey")
        return
    for table, constraint in _FOREIGN_KEYS:
        op.drop_constraint(constraint, table, type_="foreignkey")


def downgrade() -> None:
    for name, _columns in _PARTIAL:
        op.drop_index(name, table_name="users")
    _create_indexes(partial=False)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, constraint in _FOREIGN_KEYS:
        if sqlite:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.create_foreign_key(
                    constraint, "users", ["user_pk"], ["id"], ondelete="CASCADE"
                )
        else:
            op.create_foreign_key(
                constraint, table, "users", ["user_pk"], ["id"], ondelete="CASCADE"
            )
