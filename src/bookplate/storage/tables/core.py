"""Institutions, users and their side tables, code tables, API keys, rate counts, the audit log."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from bookplate.storage.tables.base import ctext, metadata, partial_index

institutions = Table(
    "institutions",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
)

network_settings = Table(
    "network_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("primary_id", String(255), nullable=False),
    Column("primary_id_norm", ctext(255), nullable=False),
    Column("record", JSON, nullable=False),
    Column("password_hash", String(255), nullable=True),
    Column("last_name_sort", ctext(255), nullable=False, server_default=""),
    Column("first_name_sort", ctext(255), nullable=False, server_default=""),
    Column("user_group", String(255), nullable=True),
    Column("record_type", String(64), nullable=False),
    Column("account_type", String(64), nullable=False),
    Column("external_id", String(255), nullable=True),
    Column("status", String(64), nullable=False),
    Column("linking_id", String(255), nullable=True),
    Column("source_institution_code", String(64), nullable=True),
    Column("source_link_id", String(255), nullable=True),
    Column("created_date", DateTime(timezone=True), nullable=True),
    Column("last_modified_date", DateTime(timezone=True), nullable=True),
    Column("expiry_date", Date, nullable=True),
    Column("purge_date", Date, nullable=True),
    # PostgreSQL: every search term as 'field:term' (``term_vector``), searched through the GIN
    # index ix_users_search_terms of migration 0020; NULL on SQLite, whose terms stay rows of
    # ``user_terms``.
    Column("search_terms", Text().with_variant(ARRAY(Text()), "postgresql"), nullable=True),
    UniqueConstraint("institution", "primary_id_norm", name="uq_users_institution_primary_id"),
    Index(
        "ix_users_default_order",
        "institution",
        "last_name_sort",
        "first_name_sort",
        "primary_id_norm",
    ),
    Index("ix_users_first_name_order", "institution", "first_name_sort", "primary_id_norm"),
    # Search: id -> sort keys, so the matches of a term are sorted without reading their rows.
    Index(
        "ix_users_id_order",
        "id",
        "institution",
        "last_name_sort",
        "first_name_sort",
        "primary_id_norm",
    ),
    Index("ix_users_last_modified", "institution", "last_modified_date"),
    # Mostly NULL (linked accounts, purge dates): partial, so most writes skip them (0008).
    partial_index("ix_users_linking_id", "linking_id"),
    partial_index("ix_users_source", "source_institution_code", "source_link_id"),
    partial_index("ix_users_purge_date", "purge_date"),
    # The search terms as a text-search vector (exact and prefix matches of its lexemes); the
    # expression is written again in migration 0020.
    Index(
        "ix_users_search_terms",
        text("array_to_tsvector(search_terms)"),
        postgresql_using="gin",
    ).ddl_if(dialect="postgresql"),
)

user_ids = Table(
    "user_ids",
    metadata,
    Column("scope", ctext(64), nullable=False),
    Column("value_norm", ctext(255), nullable=False),
    Column("user_pk", Integer, nullable=False),
    # 'primary_id' or the identifier's type: names the clash in DuplicateId.
    Column("id_type", String(64), nullable=False),
    PrimaryKeyConstraint("scope", "value_norm", name="pk_user_ids"),
    Index("ix_user_ids_user_pk", "user_pk"),
)

user_identifiers = Table(
    "user_identifiers",
    metadata,
    Column("user_pk", Integer, nullable=False),
    Column("id_type", String(64), nullable=False),
    Column("value_norm", ctext(255), nullable=False),
    PrimaryKeyConstraint("user_pk", "id_type", "value_norm", name="pk_user_identifiers"),
    Index("ix_user_identifiers_lookup", "id_type", "value_norm"),
)

user_terms = Table(
    "user_terms",
    metadata,
    Column("user_pk", Integer, nullable=False),
    Column("institution", String(64), nullable=False),
    Column("field", String(32), nullable=False),
    Column("term", ctext(200), nullable=False),
    # The user's place in the search's default order (``rows.user_order_key``) on the rows of
    # ``rows.ORDERED_TERM_FIELDS`` (the names), NULL on the others (migration 0007).
    Column("order_key", String().with_variant(String(collation="C"), "postgresql")),
    PrimaryKeyConstraint("user_pk", "field", "term", name="pk_user_terms"),
    # The matches of one term in the default order, then their user: a page of a name search
    # is read from here with LIMIT (no sort, no look-up per match), the count index-only.
    Index("ix_user_terms_search", "institution", "field", "term", "order_key", "user_pk"),
)

code_rows = Table(
    "code_rows",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("table_name", String(128), nullable=False),
    Column("code", String(255), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("institution", "table_name", "code", name="pk_code_rows"),
)

# A code table's own description (Alma's GET /conf/code-tables/{name} "description"); a table
# without a row here is described by its name (0011).
code_tables = Table(
    "code_tables",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", String(1000), nullable=False),
    PrimaryKeyConstraint("institution", "name", name="pk_code_tables"),
)

group_record_types = Table(
    "group_record_types",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("user_group", String(255), nullable=False),
    Column("record_type", String(64), nullable=False),
    PrimaryKeyConstraint("institution", "user_group", "record_type", name="pk_group_record_types"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("areas", JSON, nullable=False),
    Column("per_second", Integer, nullable=False),
    Column("created", DateTime(timezone=True), nullable=True),
    Column("revoked", DateTime(timezone=True), nullable=True),
    # Written at most once a minute per key (keys.services.KeyService.note_use).
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    Index("ix_api_keys_institution", "institution"),
)

rate_counts = Table(
    "rate_counts",
    metadata,
    Column("bucket", String(255), nullable=False),
    Column("second", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("bucket", "second", name="pk_rate_counts"),
    Index("ix_rate_counts_second", "second"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("institution", String(64), nullable=False),
    Column("actor", String(255), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_audit_log_target", "institution", "target", "at"),
    Index("ix_audit_log_action", "institution", "action", "at"),
)
