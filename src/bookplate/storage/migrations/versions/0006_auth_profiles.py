"""External sign-in: LDAP/SAML/CAS/OIDC profiles, the SAML replay cache, pending sign-ins.

Revision ID: 0006_auth_profiles
Revises: 0005_auth
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_auth_profiles"
down_revision = "0005_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_profiles",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("institution", "method", "code", name="pk_auth_profiles"),
    )
    op.create_table(
        "saml_replay",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_saml_replay"),
    )
    op.create_index("ix_saml_replay_expires_at", "saml_replay", ["expires_at"])
    op.create_table(
        "auth_pending",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_auth_pending"),
    )
    op.create_index("ix_auth_pending_expires_at", "auth_pending", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_pending_expires_at", table_name="auth_pending")
    op.drop_table("auth_pending")
    op.drop_index("ix_saml_replay_expires_at", table_name="saml_replay")
    op.drop_table("saml_replay")
    op.drop_table("auth_profiles")
