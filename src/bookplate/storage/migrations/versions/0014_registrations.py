"""Self-registrations waiting for staff (docs/patron.md): one row per pending registration,
its e-mail address, the hash of its confirmation link and when the address was confirmed.

Revision ID: 0014_registrations
Revises: 0011_conf_names
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_registrations"
down_revision = "0011_conf_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("primary_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("institution", "primary_id", name="pk_registrations"),
        sa.UniqueConstraint("token_hash", name="uq_registrations_token_hash"),
    )
    op.create_index("ix_registrations_email", "registrations", ["institution", "email"])


def downgrade() -> None:
    op.drop_index("ix_registrations_email", table_name="registrations")
    op.drop_table("registrations")
