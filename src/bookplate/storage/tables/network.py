"""Fulfillment networks (issue 18; migration 0010_network): home settings, partners with their
linked account rules, and the outbox of source-user changes that live refresh works through."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from bookplate.storage.tables.base import metadata

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
    # Ids only grow, also once the table is empty (a push is numbered by them; migration
    # 0017_outbox_autoincrement): SQLite's AUTOINCREMENT, PostgreSQL's sequence.
    sqlite_autoincrement=True,
)

def _copy_key() -> tuple[Column[str], Column[int], Column[str]]:
    """The key of a home user's copy on another deployment: (institution, the user's storage
    key, the host holding the copy), shared by the copies and the pushes owed to them."""
    return (Column("institution", String(64), nullable=False),
            Column("source_pk", Integer, nullable=False),
            Column("host", String(64), nullable=False))


# Home side (migration 0016_network_pushes): the hosts on other deployments holding a copy of a
# home user (recorded when such a host fetches the user), keyed by the user's storage key so
# a change of its primary ID keeps the row.
network_remote_copies = Table(
    "network_remote_copies",
    metadata,
    *_copy_key(),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("institution", "source_pk", "host", name="pk_network_remote_copies"),
)

# Home side: one push owed per (source user, remote host); ``seq`` is the id of the last outbox
# entry it carries (grows with every change), ``link_id`` the ID the host knows the user by.
network_pushes = Table(
    "network_pushes",
    metadata,
    *_copy_key(),
    Column("link_id", String(255), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("deleted", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(1000), nullable=True),
    Column("next_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("institution", "source_pk", "host", name="pk_network_pushes"),
)

# Host side: the newest push applied per home user (so an older one never overwrites it).
network_push_seen = Table(
    "network_push_seen",
    metadata,
    Column("institution", String(64), nullable=False),
    Column("source_institution", String(64), nullable=False),
    Column("source_pk", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("institution", "source_institution", "source_pk",
                         name="pk_network_push_seen"),
)

# Network Zone (migration 0018_network_zone): the members of the deployment's zone, whose
# copies of the central institution's users are kept by it (the central itself is the
# ``zone_central`` row of ``network_settings``).
network_zone_members = Table(
    "network_zone_members",
    metadata,
    Column("member", String(64), primary_key=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(255), nullable=True),
)
