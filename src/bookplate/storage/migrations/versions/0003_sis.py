"""SIS integration: profiles, runs and their items, record fingerprints.

Revision ID: 0003_sis
Revises: 0002_roles
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sis"
down_revision = "0002_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sis_profiles",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("institution", "code", name=op.f("pk_sis_profiles")),
    )
    op.create_table(
        "sis_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=4000), server_default="", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_runs")),
    )
    op.create_index("ix_sis_runs_profile", "sis_runs", ["institution", "profile", "id"])
    op.create_table(
        "sis_run_items",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_no", sa.Integer(), nullable=True),
        sa.Column("match_id", sa.String(length=255), nullable=True),
        sa.Column("primary_id", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.String(length=8000), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sis_runs.id"],
            name=op.f("fk_sis_run_items_run_id_sis_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_sis_run_items")),
    )
    op.create_index("ix_sis_run_items_kind", "sis_run_items", ["run_id", "kind", "seq"])
    op.create_table(
        "sis_fingerprints",
        sa.Column("user_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"],
            ["users.id"],
            name=op.f("fk_sis_fingerprints_user_pk_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_pk", name=op.f("pk_sis_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("sis_fingerprints")
    op.drop_index("ix_sis_run_items_kind", table_name="sis_run_items")
    op.drop_table("sis_run_items")
    op.drop_index("ix_sis_runs_profile", table_name="sis_runs")
    op.drop_table("sis_runs")
    op.drop_table("sis_profiles")
