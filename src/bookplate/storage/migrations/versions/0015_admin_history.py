"""API keys remember when they were last used (``last_used_at``, written at most once a
minute per key), and the audit log gets an index by action for the configuration history
and its filters (docs/admin-ui.md).

Revision ID: 0015_admin_history
Revises: 0014_registrations
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_admin_history"
down_revision = "0014_registrations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_audit_log_action", "audit_log", ["institution", "action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
