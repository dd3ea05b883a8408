"""Pushes of refreshed records to linked accounts on other deployments (docs/networks.md):
the remote hosts holding copies of a home's users, the pushes owed to them, and on a host the
newest push applied per home user.

Revision ID: 0016_network_pushes
Revises: 0015_admin_history
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_network_pushes"
down_revision = "0015_admin_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_remote_copies",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("source_pk", sa.Integer, nullable=False),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("institution", "source_pk", "host",
                                name="pk_network_remote_copies"),
    )
    op.create_table(
        "network_pushes",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("source_pk", sa.Integer, nullable=False),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("link_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("institution", "source_pk", "host", name="pk_network_pushes"),
    )
    op.create_table(
        "network_push_seen",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("source_institution", sa.String(64), nullable=False),
        sa.Column("source_pk", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("institution", "source_institution", "source_pk",
                                name="pk_network_push_seen"),
    )


def downgrade() -> None:
    op.drop_table("network_push_seen")
    op.drop_table("network_pushes")
    op.drop_table("network_remote_copies")
