"""The outbox's ids never come back on SQLite.

A push to a copy on another deployment is numbered by the id of the last outbox entry it
carries, and the host drops a push whose number is not newer than the last it applied. On
SQLite ``network_outbox.id`` was a plain ``INTEGER PRIMARY KEY``, which hands out the largest
id in the table plus one: once the outbox had drained, the next change got id 1 again and its
push was dropped as stale. The table is rebuilt with ``AUTOINCREMENT`` (ids only grow), its
waiting rows kept, and the counter starts above every id a waiting push already carries.
PostgreSQL's id is a sequence, which never hands out a number twice: nothing to do there.

Revision ID: 0017_outbox_autoincrement
Revises: 0016_network_pushes
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_outbox_autoincrement"
down_revision = "0016_network_pushes"
branch_labels = None
depends_on = None

_COPY = (
    "INSERT INTO network_outbox_rebuilt (id, institution, link_id, source_pk, kind, created_at, "
    "attempts, last_error) SELECT id, institution, link_id, source_pk, kind, created_at, "
    "attempts, last_error FROM network_outbox"
)


def _rebuild(autoincrement: bool) -> None:
    """Copy ``network_outbox`` into a table of the same shape, with or without
    ``AUTOINCREMENT``, keeping its rows and ids."""
    op.create_table(
        "network_outbox_rebuilt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("link_id", sa.String(255), nullable=False),
        sa.Column("source_pk", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_network_outbox"),
        sqlite_autoincrement=autoincrement,
    )
    op.execute(_COPY)
    op.drop_index("ix_network_outbox_source", table_name="network_outbox")
    op.drop_table("network_outbox")
    op.rename_table("network_outbox_rebuilt", "network_outbox")
    op.create_index(
        "ix_network_outbox_source", "network_outbox", ["institution", "link_id", "id"]
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    # Above every number already handed out that is still known here: the waiting entries'
    # ids (kept by the copy) and the pushes still owed.
    owed = bind.execute(sa.text("SELECT COALESCE(MAX(seq), 0) FROM network_pushes")).scalar()
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'network_outbox'"))
    bind.execute(sa.text(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'network_outbox', MAX(:owed, "
        "COALESCE((SELECT MAX(id) FROM network_outbox), 0))"
    ), {"owed": int(owed or 0)})


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
