"""SIS integration: profiles, runs, their report items, fingerprints (migration 0003_sis)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from bookplate.storage.tables.base import metadata

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
