"""An institution's configuration as one whole: read for a fingerprint, cleared for a
sandbox reset (``bookplate.sandbox``). Code tables and their descriptions, the user-group map,
libraries and desks, role profiles and rules, restricted-account settings, SIS profiles, the
institution's network settings (as a home institution and its partners), external sign-in
profiles, API keys and staff tokens; users are the user repository's business. The
deployment-wide network ID scope (``network_settings``) belongs to no institution and is
neither read nor cleared here."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, Table, delete, select, update

from bookplate.storage import tables as t
from bookplate.storage.transaction import transaction

# Each table of the fingerprint with the columns it is read by (the moments of writing, key ids
# and secret hashes are left out: a fresh key is a new secret, the same grant).
SNAPSHOT: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (t.code_rows, ("table_name", "code", "description", "enabled", "is_default", "position")),
    (t.code_tables, ("name", "description")),
    (t.group_record_types, ("user_group", "record_type")),
    (t.libraries, ("code", "name", "description", "enabled")),
    (t.circulation_desks, ("library", "code", "name", "enabled")),
    (t.role_profiles, ("code", "name", "roles")),
    (t.assignment_rules, ("rule_id", "profile", "conditions", "position")),
    (t.restricted_settings, ("user_groups", "role_types")),
    (t.api_keys, ("name", "areas", "per_second")),
    (t.sis_profiles, ("code", "settings")),
    (t.network_members, ("settings", "search_password_hash")),
    (t.network_partners, ("partner", "settings", "api_key", "search_password")),
    (t.auth_profiles, ("method", "code", "config")),
)
# Secrets a partner row holds in clear: the fingerprint holds their SHA-256 instead.
SECRET_COLUMNS = frozenset({"api_key", "search_password"})
# Cleared by a reset, besides the tables above (a staff token names a user that is gone).
ALSO_CLEARED: tuple[Table, ...] = (t.staff_tokens,)


def _secret(value: Any) -> Any:
    return None if value is None else hashlib.sha256(str(value).encode()).hexdigest()


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list | dict) or value is None \
        else str(value)


class SqlInstitutionState:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def snapshot(self, institution: str) -> dict[str, list[dict[str, Any]]]:
        """Every configuration row of the institution, table by table, in a stable order.
        Keys are listed with ``revoked`` as a flag."""
        out: dict[str, list[dict[str, Any]]] = {}
        with transaction(self._engine, read_only=True) as conn:
            for table, columns in SNAPSHOT:
                cols = [table.c[name] for name in columns]
                is_keys = table is t.api_keys
                extra = [table.c.revoked.is_not(None).label("revoked")] if is_keys else []
                rows = conn.execute(
                    select(*cols, *extra).where(table.c.institution == institution)
                )
                listed = [{k: _secret(v) if k in SECRET_COLUMNS else _plain(v)
                           for k, v in row._mapping.items()} for row in rows]
                listed.sort(key=lambda r: repr(sorted(r.items())))
                out[table.name] = listed
        return out

    def clear(self, institution: str, keep_keys: Collection[str]) -> None:
        """Remove the institution's configuration (the tables of ``SNAPSHOT`` and staff
        tokens) except the API keys ``keep_keys``, which are made valid again if revoked; in
        one transaction."""
        with transaction(self._engine) as conn:
            for table, _ in SNAPSHOT:
                condition = table.c.institution == institution
                if table is t.api_keys:
                    condition = condition & table.c.key_id.not_in(list(keep_keys))
                conn.execute(delete(table).where(condition))
            for table in ALSO_CLEARED:
                conn.execute(delete(table).where(table.c.institution == institution))
            if keep_keys:
                conn.execute(
                    update(t.api_keys)
                    .where(t.api_keys.c.key_id.in_(list(keep_keys)))
                    .values(revoked=None)
                )
