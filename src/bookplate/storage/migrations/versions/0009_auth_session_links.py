"""Single logout: the provider session behind each external sign-in's Bookplate session.

Revision ID: 0009_auth_session_links
Revises: 0008_side_rows_without_fk
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_auth_session_links"
down_revision = "0008_side_rows_without_fk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_session_links",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("session_index", sa.String(length=512), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_hash", name="pk_auth_session_links"),
    )
    op.create_index("ix_auth_session_links_subject", "auth_session_links",
                    ["institution", "method", "code", "subject"])
    op.create_index("ix_auth_session_links_index", "auth_session_links",
                    ["institution", "method", "code", "session_index"])
    op.create_index("ix_auth_session_links_expires_at", "auth_session_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_session_links_expires_at", table_name="auth_session_links")
    op.drop_index("ix_auth_session_links_index", table_name="auth_session_links")
    op.drop_index("ix_auth_session_links_subject", table_name="auth_session_links")
    op.drop_table("auth_session_links")
