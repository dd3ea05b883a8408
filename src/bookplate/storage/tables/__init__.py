"""The database schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` must match it.

A user is one row of ``users`` holding the whole record as a JSON document, plus side tables
for what is looked up, searched or must be unique:

* ``user_ids``: every normalised value of the user's ID namespace (primary ID and identifier
  values) with its uniqueness scope ('*' network-wide or the institution code). Its primary
  key (scope, value_norm) is what makes IDs unique, even under concurrent writes.
* ``user_identifiers``: (id_type, value_norm) for look-ups by one identifier type.
* ``user_terms``: the search terms of ``users.queries.search_terms``; the rows of name fields
  also carry the user's ``order_key`` (sort keys of the default search order in one string).
  On PostgreSQL only the name fields' rows are kept: every term is on the user row, in
  ``users.search_terms`` with its GIN index (``storage.term_vector``, migration 0020).

The side tables (and ``sis_fingerprints``) have no foreign key to ``users`` (migration 0008):
only the repositories write them, always in the transaction that writes the user, and they
delete a user's side rows themselves. A foreign key made PostgreSQL lock the user's row for
every side row inserted (about half of an SIS load's database time); the tests check after
each storage test that no side row has lost its user.

Text that is compared by range or sorted uses the "C" collation on PostgreSQL so that both
databases order by code point and ``term >= 'abc' AND term < 'abd'`` is an exact prefix test.

The tables are declared by concern in this package (``core``: institutions, users and their
side tables, codes, keys, audit; ``roles``; ``sis``; ``auth``; ``network``), all on the one
``metadata`` of ``base``; importing the package imports every module, so Alembic's autogenerate and
``bookplate db check`` (``storage.migrate``) see every table.
"""

from __future__ import annotations

from bookplate.storage.tables.auth import (
    auth_pending,
    auth_profiles,
    auth_session_links,
    auth_sessions,
    login_events,
    login_failures,
    password_resets,
    registrations,
    saml_replay,
    signing_keys,
)
from bookplate.storage.tables.base import NAMING_CONVENTION, ctext, metadata, partial_index
from bookplate.storage.tables.core import (
    api_keys,
    audit_log,
    code_rows,
    code_tables,
    group_record_types,
    institutions,
    network_settings,
    rate_counts,
    user_identifiers,
    user_ids,
    user_terms,
    users,
)
from bookplate.storage.tables.network import (
    network_members,
    network_outbox,
    network_partners,
    network_push_seen,
    network_pushes,
    network_remote_copies,
    network_zone_members,
)
from bookplate.storage.tables.roles import (
    assignment_rules,
    circulation_desks,
    libraries,
    restricted_settings,
    role_profiles,
    staff_tokens,
)
from bookplate.storage.tables.sis import (
    sis_fingerprints,
    sis_profiles,
    sis_run_items,
    sis_runs,
)

__all__ = [
    "NAMING_CONVENTION",
    "api_keys",
    "assignment_rules",
    "audit_log",
    "auth_pending",
    "auth_profiles",
    "auth_session_links",
    "auth_sessions",
    "circulation_desks",
    "code_rows",
    "code_tables",
    "ctext",
    "group_record_types",
    "institutions",
    "libraries",
    "login_events",
    "login_failures",
    "metadata",
    "network_members",
    "network_outbox",
    "network_partners",
    "network_push_seen",
    "network_pushes",
    "network_remote_copies",
    "network_settings",
    "network_zone_members",
    "partial_index",
    "password_resets",
    "rate_counts",
    "registrations",
    "restricted_settings",
    "role_profiles",
    "saml_replay",
    "signing_keys",
    "sis_fingerprints",
    "sis_profiles",
    "sis_run_items",
    "sis_runs",
    "staff_tokens",
    "user_identifiers",
    "user_ids",
    "user_terms",
    "users",
]
