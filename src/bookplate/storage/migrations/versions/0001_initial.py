"""Initial schema: users with their ID/identifier/term side tables, code tables, API keys,
rate counts, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ctext(length: int) -> sa.types.TypeEngine[str]:
    """Byte-wise compared text: COLLATE "C" on PostgreSQL (prefix ranges, stable order)."""
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("per_second", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    )
    op.create_index("ix_api_keys_institution", "api_keys", ["institution"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_target", "audit_log", ["institution", "target", "at"], unique=False
    )
    op.create_table(
        "code_rows",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=128), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("institution", "table_name", "code", name="pk_code_rows"),
    )
    op.create_table(
        "group_record_types",
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("user_group", sa.String(length=255), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "institution", "user_group", "record_type", name="pk_group_record_types"
        ),
    )
    op.create_table(
        "institutions",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_institutions")),
    )
    op.create_table(
        "network_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_network_settings")),
    )
    op.create_table(
        "rate_counts",
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("second", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "second", name="pk_rate_counts"),
    )
    op.create_index("ix_rate_counts_second", "rate_counts", ["second"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("primary_id", sa.String(length=255), nullable=False),
        sa.Column("primary_id_norm", _ctext(255), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("last_name_sort", _ctext(255), server_default="", nullable=False),
        sa.Column("first_name_sort", _ctext(255), server_default="", nullable=False),
        sa.Column("user_group", sa.String(length=255), nullable=True),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("account_type", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("linking_id", sa.String(length=255), nullable=True),
        sa.Column("source_institution_code", sa.String(length=64), nullable=True),
        sa.Column("source_link_id", sa.String(length=255), nullable=True),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("purge_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "institution", "primary_id_norm", name="uq_users_institution_primary_id"
        ),
    )
    op.create_index(
        "ix_users_default_order",
        "users",
        ["institution", "last_name_sort", "first_name_sort", "primary_id_norm"],
        unique=False,
    )
    op.create_index(
        "ix_users_first_name_order",
        "users",
        ["institution", "first_name_sort", "primary_id_norm"],
        unique=False,
    )
    op.create_index(
        "ix_users_last_modified", "users", ["institution", "last_modified_date"], unique=False
    )
    op.create_index("ix_users_linking_id", "users", ["linking_id"], unique=False)
    op.create_index("ix_users_purge_date", "users", ["purge_date"], unique=False)
    op.create_index(
        "ix_users_source", "users", ["source_institution_code", "source_link_id"], unique=False
    )
    op.create_table(
        "user_identifiers",
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("id_type", sa.String(length=64), nullable=False),
        sa.Column("value_norm", _ctext(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"],
            ["users.id"],
            name=op.f("fk_user_identifiers_user_pk_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_pk", "id_type", "value_norm", name="pk_user_identifiers"),
    )
    op.create_index(
        "ix_user_identifiers_lookup", "user_identifiers", ["id_type", "value_norm"], unique=False
    )
    op.create_table(
        "user_ids",
        sa.Column("scope", _ctext(64), nullable=False),
        sa.Column("value_norm", _ctext(255), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("id_type", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_user_ids_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scope", "value_norm", name="pk_user_ids"),
    )
    op.create_index("ix_user_ids_user_pk", "user_ids", ["user_pk"], unique=False)
    op.create_table(
        "user_terms",
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("term", _ctext(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_user_terms_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_pk", "field", "term", name="pk_user_terms"),
    )
    op.create_index(
        "ix_user_terms_lookup",
        "user_terms",
        ["institution", "field", "term", "user_pk"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_user_terms_lookup", table_name="user_terms")
    op.drop_table("user_terms")
    op.drop_index("ix_user_ids_user_pk", table_name="user_ids")
    op.drop_table("user_ids")
    op.drop_index("ix_user_identifiers_lookup", table_name="user_identifiers")
    op.drop_table("user_identifiers")
    op.drop_index("ix_users_source", table_name="users")
    op.drop_index("ix_users_purge_date", table_name="users")
    op.drop_index("ix_users_linking_id", table_name="users")
    op.drop_index("ix_users_last_modified", table_name="users")
    op.drop_index("ix_users_first_name_order", table_name="users")
    op.drop_index("ix_users_default_order", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_rate_counts_second", table_name="rate_counts")
    op.drop_table("rate_counts")
    op.drop_table("network_settings")
    op.drop_table("institutions")
    op.drop_table("group_record_types")
    op.drop_table("code_rows")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_api_keys_institution", table_name="api_keys")
    op.drop_table("api_keys")
