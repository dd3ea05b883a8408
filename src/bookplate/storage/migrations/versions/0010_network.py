"""Fulfillment networks: home settings, partners with their linked account rules, and the
outbox of source-user changes that live refresh works through.

Revision ID: 0010_network
Revises: 0009_auth_session_links
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_network"
down_revision = "0009_auth_session_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_members",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("search_password_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("institution", name="pk_network_members"),
    )
    op.create_table(
        "network_partners",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("api_key", sa.String(1000), nullable=True),
        sa.Column("search_password", sa.String(1000), nullable=True),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("institution", "partner", name="pk_network_partners"),
    )
    op.create_table(
        "network_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("link_id", sa.String(255), nullable=False),
        sa.Column("source_pk", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_network_outbox"),
    )
    op.create_index(
        "ix_network_outbox_source", "network_outbox", ["institution", "link_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_network_outbox_source", table_name="network_outbox")
    op.drop_table("network_outbox")
    op.drop_table("network_partners")
    op.drop_table("network_members")
