"""Network Zone style central management (docs/networks.md, "Network Zone"): the member
institutions of the deployment's zone. The central institution is one row of
``network_settings`` (``zone_central``).

Revision ID: 0018_network_zone
Revises: 0017_outbox_autoincrement
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_network_zone"
down_revision = "0017_outbox_autoincrement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_zone_members",
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("member", name="pk_network_zone_members"),
    )


def downgrade() -> None:
    op.drop_table("network_zone_members")
    op.execute("DELETE FROM network_settings WHERE key = 'zone_central'")
