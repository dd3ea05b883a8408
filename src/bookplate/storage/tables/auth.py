"""Authentication: sessions, failures, events, reset links, signing keys, external sign-in
profiles, the SAML replay cache, pending sign-ins, session links, self-registrations
(migrations 0005, 0006, 0009, 0014)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from bookplate.storage.tables.base import metadata

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


# Self-registrations waiting for staff (docs/patron.md): the user record holds the person's
# data; this row the e-mail address (lower-cased), the confirmation link's SHA-256 (cleared
# once used) and when the address was confirmed.
registrations = Table(
    "registrations",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("primary_id", String(255), nullable=False),
    Column("email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("link_expires_at", DateTime(timezone=True), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("address", String(64), nullable=True),
    PrimaryKeyConstraint("institution", "primary_id", name="pk_registrations"),
    Index("ix_registrations_email", "institution", "email"),
)
