"""Roles: libraries and desks, profiles, assignment rules, restricted accounts, staff tokens."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    true,
)

from bookplate.storage.tables.base import metadata

libraries = Table(
    "libraries",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", String(1000), nullable=True),  # 0011
    Column("enabled", Boolean, nullable=False, server_default=true()),
    PrimaryKeyConstraint("institution", "code", name="pk_libraries"),
)

circulation_desks = Table(
    "circulation_desks",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("library", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(255), nullable=True),  # 0011; NULL: the code is the name
    Column("enabled", Boolean, nullable=False, server_default=true()),
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
