"""Roles: libraries and circulation desks, role profiles, assignment rules, restricted-account
settings, staff tokens.

Revision ID: 0002_roles
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_roles"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "libraries",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("institution", "code", name="pk_libraries"),
    )
    op.create_table(
        "circulation_desks",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("library", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("institution", "library", "code", name="pk_circulation_desks"),
    )
    op.create_table(
        "role_profiles",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("institution", "code", name="pk_role_profiles"),
    )
    op.create_table(
        "assignment_rules",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("institution", "rule_id", name="pk_assignment_rules"),
    )
    op.create_table(
        "restricted_settings",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("user_groups", sa.JSON(), nullable=False),
        sa.Column("role_types", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("institution", name=op.f("pk_restricted_settings")),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("primary_id", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_staff_tokens")),
        sa.UniqueConstraint("secret_hash", name="uq_staff_tokens_secret_hash"),
    )


def downgrade() -> None:
    for name in ("staff_tokens", "restricted_settings", "assignment_rules", "role_profiles",
                 "circulation_desks", "libraries"):
        op.drop_table(name)
