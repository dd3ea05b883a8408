"""The database schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` must match it.

A user is one row of ``users`` holding the whole record as a JSON document, plus side tables
for what is looked up, searched or must be unique:

* ``user_ids``: every normalised value of the user's ID namespace (primary ID and identifier
  values) with its uniqueness scope ('*' network-wide or the institution code). Its primary
  key (scope, value_norm) is what makes IDs unique, even under concurrent writes.
* ``user_identifiers``: (id_type, value_norm) for look-ups by one identifier type.
* ``user_terms``: the search terms of ``users.queries.search_terms``; the rows of name fields
  also carry the user's ``order_key`` (sort keys of the default search order in one string).

The side tables (and ``sis_fingerprints``) have no foreign key to ``users`` (migration 0008):
only the repositories write them, always in the transaction that writes the user, and they
delete a user's side rows themselves. A foreign key made PostgreSQL lock the user's row for
every side row inserted (about half of an SIS load's database time); the tests check after
each storage test that no side row has lost its user.

Text that is compared by range or sorted uses the "C" collation on PostgreSQL so that both
databases order by code point and ``term >= 'abc' AND term < 'abd'`` is an exact prefix test.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def ctext(length: int) -> TypeEngine[str]:
    """A string compared byte-wise: COLLATE "C" on PostgreSQL, SQLite's default BINARY."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _partial_index(name: str, *columns: str) -> Index:
    """An index over the rows whose first column is not NULL (both databases)."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


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
    _partial_index("ix_users_linking_id", "linking_id"),
    _partial_index("ix_users_source", "source_institution_code", "source_link_id"),
    _partial_index("ix_users_purge_date", "purge_date"),
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
)

# --- roles: libraries and desks, profiles, assignment rules, restricted accounts, tokens ---

libraries = Table(
    "libraries",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    PrimaryKeyConstraint("institution", "code", name="pk_libraries"),
)

circulation_desks = Table(
    "circulation_desks",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("library", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    PrimaryKeyConstraint("institution", "library", "code", name="pk_circulation_desks"),
)

role_profiles = Table(
    "role_profiles",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("roles", JSON, nullable=False),
    PrimaryKeyConstraint("institution", "code", name="pk_role_profiles"),
)

assignment_rules = Table(
    "assignment_rules",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("profile", String(64), nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("institution", "rule_id", name="pk_assignment_rules"),
)

restricted_settings = Table(
    "restricted_settings",
    metadata,
    Column("institution", String(64), primary_key=True),
    Column("user_groups", JSON, nullable=False),
    Column("role_types", JSON, nullable=False),
)

staff_tokens = Table(
    "staff_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("primary_id", String(255), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("revoked", DateTime(timezone=True), nullable=True),
    UniqueConstraint("secret_hash", name="uq_staff_tokens_secret_hash"),
)

# --- SIS integration (issue 4; migration 0003_sis) ---------------------------------------------

sis_profiles = Table(
    "sis_profiles",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("code", String(255), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("modified", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("institution", "code", name="pk_sis_profiles"),
)

sis_runs = Table(
    "sis_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("profile", String(255), nullable=False),
    Column("mode", String(32), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("source", String(1000), nullable=False),
    Column("status", String(32), nullable=False),
    Column("message", String(4000), nullable=False, server_default=""),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("counts", JSON, nullable=False),
    Column("started", DateTime(timezone=True), nullable=True),
    Column("finished", DateTime(timezone=True), nullable=True),
    Index("ix_sis_runs_profile", "institution", "profile", "id"),
)

# One row per record of a run (the report's lists): action, record number, IDs, reason/diff.
sis_run_items = Table(
    "sis_run_items",
    metadata,
    Column("run_id", Integer, ForeignKey("sis_runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("record_no", Integer, nullable=True),
    Column("match_id", String(255), nullable=True),
    Column("primary_id", String(255), nullable=True),
    Column("detail", String(8000), nullable=True),
    PrimaryKeyConstraint("run_id", "seq", name="pk_sis_run_items"),
    Index("ix_sis_run_items_kind", "run_id", "kind", "seq"),
)

# The fingerprint of the file record a user was last synchronised from, and the user's
# last_modified_date written with it: an identical record for an unmodified user is unchanged
# without being parsed.
sis_fingerprints = Table(
    "sis_fingerprints",
    metadata,
    Column("user_pk", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", String(64), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=True),
)

# --- authentication (issue 6; migration 0005_auth) ---------------------------------------------

# Web sessions: the cookie holds a random token, only its SHA-256 is stored.
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("primary_id", String(255), nullable=False),
    Column("method", String(32), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_auth_sessions_expires_at", "expires_at"),
)

# Failed sign-ins per account (used when no Redis is configured), epoch seconds.
login_failures = Table(
    "login_failures",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure", Integer, nullable=False),
    Column("locked_until", Integer, nullable=False),
)

# Every sign-in attempt, for the staff login report.
login_events = Table(
    "login_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("login_name", String(255), nullable=False),
    Column("primary_id", String(255), nullable=True),
    Column("method", String(32), nullable=False),
    Column("success", Boolean, nullable=False),
    Column("staff", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("address", String(64), nullable=True),
    Column("reason", String(255), nullable=True),
    Index("ix_login_events_report", "institution", "staff", "at"),
)

# One-time password-reset links (SHA-256 of the token).
password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("primary_id", String(255), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

# RS256 keys that sign discovery JWTs; retired keys stay published until their tokens expire.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("private_pem", String(8000), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Index("ix_signing_keys_institution", "institution"),
)

# --- external sign-in profiles (issue 6 items 3-6; migration 0006_auth_profiles) -------------

# LDAP / SAML / CAS / OIDC profiles: the adapter's dataclass (with its UserMapping) as JSON.
auth_profiles = Table(
    "auth_profiles",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("code", String(64), nullable=False),
    Column("config", JSON, nullable=False),
    Column("modified", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("institution", "method", "code", name="pk_auth_profiles"),
)

# SAML assertion IDs already consumed (replay cache shared by every worker), until they expire.
saml_replay = Table(
    "saml_replay",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_saml_replay_expires_at", "expires_at"),
)

# A browser's external sign-in in progress (SAML request IDs, OIDC state/nonce/PKCE verifier,
# where to go afterwards), keyed by the SHA-256 of a random cookie value.
auth_pending = Table(
    "auth_pending",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("code", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_auth_pending_expires_at", "expires_at"),
)

# --- single logout (issue 14 item 13; migration 0009_auth_session_links) ----------------------

# Which provider session an external sign-in's Bookplate session belongs to, so that a logout
# the provider starts (SAML LogoutRequest, CAS logoutRequest) finds the sessions to end and a
# sign-out here can tell the provider (SAML NameID + SessionIndex, OIDC id_token_hint).
auth_session_links = Table(
    "auth_session_links",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("institution", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("code", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("session_index", String(512), nullable=True),
    Column("data", JSON, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_auth_session_links_subject", "institution", "method", "code", "subject"),
    Index("ix_auth_session_links_index", "institution", "method", "code", "session_index"),
    Index("ix_auth_session_links_expires_at", "expires_at"),
)


# --- fulfillment networks (issue 18; migration 0010_network) ---------------------------------

# An institution's settings as a home institution: searchable identifier types, the SHA-256 of
# its network search password, whether its blocks travel to linked accounts.
network_members = Table(
    "network_members",
    metadata,
    Column("institution", String(64), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("search_password_hash", String(64), nullable=True),
)

# A host's partners with its linked account rule for each; api_key and search_password are
# what the host sends to the partner (kept apart from the shown settings, never printed).
network_partners = Table(
    "network_partners",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("partner", String(64), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("api_key", String(1000), nullable=True),
    Column("search_password", String(1000), nullable=True),
    Column("modified", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("institution", "partner", name="pk_network_partners"),
)

# Changes of users that have linked accounts, written in the transaction of the change and
# deleted when their copies are refreshed (network.services.process_outbox). ``link_id``: the
# primary ID the copies know the source by (before the change).
network_outbox = Table(
    "network_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("institution", String(64), nullable=False),
    Column("link_id", String(255), nullable=False),
    Column("source_pk", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(1000), nullable=True),
    Index("ix_network_outbox_source", "institution", "link_id", "id"),
)
