"""``InstitutionRepository`` (institutions and the network's ID uniqueness rule) and
``NetworkRepository`` (home settings, partners, linked accounts, the refresh outbox)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import (
    DEFAULT_SEARCHABLE,
    NETWORK_SCOPE_KEY,
    IdClash,
    IdScope,
    Institution,
    MemberSettings,
    OutboxEntry,
    OutboxKind,
    Partner,
    partner_from_settings,
    partner_settings,
)
from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user, user_to_document
from bookplate.storage.network_bulk import NetworkBulk, lock_key
from bookplate.storage.network_link import NetworkLinkReads
from bookplate.storage.upsert import upsert
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User, normalise_id

ID_SCOPE_KEY = "id_scope"


def read_id_scope(conn: Connection) -> IdScope:
    value = conn.execute(
        select(t.network_settings.c.value).where(t.network_settings.c.key == ID_SCOPE_KEY)
    ).scalar_one_or_none()
    return IdScope(value) if value else IdScope.NETWORK


def _scope_of(scope: IdScope) -> Any:
    """The ``user_ids.scope`` each stored ID takes under ``scope``: a linked copy's IDs stay
    within its institution (``network.model.uniqueness_scope``)."""
    ids, users = t.user_ids, t.users
    institution = (
        select(users.c.institution).where(users.c.id == ids.c.user_pk).scalar_subquery()
    )
    if scope is IdScope.INSTITUTION:
        return institution
    linked = (
        select(users.c.source_institution_code)
        .where(users.c.id == ids.c.user_pk)
        .scalar_subquery()
    )
    return case((linked.is_not(None), institution), else_=literal(NETWORK_SCOPE_KEY))


class SqlInstitutionRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, code: str) -> Institution | None:
        row = self._conn.execute(
            select(t.institutions.c.code, t.institutions.c.name).where(
                t.institutions.c.code == code
            )
        ).first()
        return Institution(row.code, row.name) if row else None

    def list(self) -> list[Institution]:
        rows = self._conn.execute(
            select(t.institutions.c.code, t.institutions.c.name).order_by(t.institutions.c.code)
        )
        return [Institution(r.code, r.name) for r in rows]

    def add(self, institution: Institution) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.institutions,
                {"code": institution.code, "name": institution.name},
                ["code"],
            )
        )

    def id_scope(self) -> IdScope:
        return read_id_scope(self._conn)

    def id_clashes(self, scope: IdScope, limit: int = 100_000) -> builtins.list[IdClash]:
        """Group every stored ID by the scope it would take and its value; each group of more
        than one user is a clash (one read; nothing written)."""
        ids, users = t.user_ids, t.users
        target = _scope_of(scope).label("target")
        keyed = (
            select(target, ids.c.value_norm, ids.c.user_pk, ids.c.id_type)
            .select_from(ids)
            .subquery("keyed")
        )
        clashing = (
            select(keyed.c.target, keyed.c.value_norm)
            .group_by(keyed.c.target, keyed.c.value_norm)
            .having(func.count() > 1)
            .order_by(keyed.c.value_norm, keyed.c.target)
            .limit(limit)
            .subquery("clashing")
        )
        rows = self._conn.execute(
            select(
                clashing.c.target,
                clashing.c.value_norm,
                users.c.institution,
                users.c.primary_id,
                keyed.c.id_type,
            )
            .select_from(clashing)
            .join(
                keyed,
                (keyed.c.target == clashing.c.target)
                & (keyed.c.value_norm == clashing.c.value_norm),
            )
            .join(users, users.c.id == keyed.c.user_pk)
            .order_by(clashing.c.value_norm, clashing.c.target, users.c.institution,
                      users.c.primary_id)
        )
        grouped: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for target_scope, value, institution, primary_id, id_type in rows:
            grouped.setdefault((target_scope, value), []).append(
                (institution, primary_id, id_type)
            )
        return [IdClash(value, tuple(holders)) for (_s, value), holders in grouped.items()]

    def set_id_scope(self, scope: IdScope) -> None:
        clashes = self.id_clashes(scope, limit=1)
        if clashes:
            _institution, _primary_id, id_type = clashes[0].holders[0]
            raise DuplicateId(clashes[0].value, id_type)
        try:
            with self._conn.begin_nested():
                self._conn.execute(update(t.user_ids).values(scope=_scope_of(scope)))
                self._conn.execute(
                    upsert(
                        self._conn,
                        t.network_settings,
                        {"key": ID_SCOPE_KEY, "value": scope.value},
                        ["key"],
                    )
                )
        except IntegrityError:
            raise DuplicateId("?", "all_unique") from None


class SqlNetworkRepository(NetworkBulk, NetworkLinkReads):
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._pg = connection.dialect.name == "postgresql"

    # -- home settings -----------------------------------------------------------------

    def member(self, institution: str) -> MemberSettings:
        m = t.network_members.c
        row = self._conn.execute(
            select(m.settings, m.search_password_hash).where(m.institution == institution)
        ).first()
        if row is None:
            return MemberSettings(institution)
        settings = row.settings or {}
        return MemberSettings(
            institution,
            tuple(settings.get("searchable_id_types") or DEFAULT_SEARCHABLE),
            row.search_password_hash,
            bool(settings.get("share_blocks", True)),
        )

    def put_member(self, settings: MemberSettings) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.network_members,
                {
                    "institution": settings.institution,
                    "settings": {
                        "searchable_id_types": list(settings.searchable_id_types),
                        "share_blocks": settings.share_blocks,
                    },
                    "search_password_hash": settings.search_password_hash,
                },
                ["institution"],
            )
        )

    # -- partners ----------------------------------------------------------------------

    def partner(self, institution: str, code: str) -> Partner | None:
        p = t.network_partners.c
        row = self._conn.execute(
            select(p.settings, p.api_key, p.search_password).where(
                p.institution == institution, p.partner == code
            )
        ).first()
        if row is None:
            return None
        return partner_from_settings(institution, code, row.settings or {}, row.api_key,
                                     row.search_password)

    def partners(self, institution: str) -> list[Partner]:
        p = t.network_partners.c
        rows = self._conn.execute(
            select(p.partner, p.settings, p.api_key, p.search_password)
            .where(p.institution == institution)
            .order_by(p.partner)
        )
        return [
            partner_from_settings(institution, r.partner, r.settings or {}, r.api_key,
                                  r.search_password)
            for r in rows
        ]

    def put_partner(self, partner: Partner) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.network_partners,
                {
                    "institution": partner.institution,
                    "partner": partner.code,
                    "settings": partner_settings(partner),
                    "api_key": partner.api_key,
                    "search_password": partner.search_password,
                    "modified": datetime.now(UTC),
                },
                ["institution", "partner"],
            )
        )

    def remove_partner(self, institution: str, code: str) -> bool:
        p = t.network_partners.c
        result = self._conn.execute(
            delete(t.network_partners).where(p.institution == institution, p.partner == code)
        )
        return bool(result.rowcount)

    # -- linked accounts ---------------------------------------------------------------

    def copies(self, source_institution: str, link_id: str) -> list[User]:
        u = t.users.c
        rows = self._conn.execute(
            select(u.institution, u.record)
            .where(u.source_institution_code == source_institution, u.source_link_id == link_id)
            .order_by(u.id)
        )
        return [stored_user(inst, record) for inst, record in rows]

    def copy_in(self, institution: str, source_institution: str, link_id: str) -> User | None:
        u = t.users.c
        row = self._conn.execute(
            select(u.institution, u.record)
            .where(
                u.institution == institution,
                u.source_institution_code == source_institution,
                u.source_link_id == link_id,
            )
            .order_by(u.id)
            .limit(1)
        ).first()
        return stored_user(row[0], row[1]) if row else None

    def load(self, pk: int) -> User | None:
        u = t.users.c
        row = self._conn.execute(select(u.institution, u.record).where(u.id == pk)).first()
        return stored_user(row[0], row[1]) if row else None

    def set_linking_id(self, institution: str, primary_id: str, linking_id: str) -> None:
        u = t.users.c
        row = self._conn.execute(
            select(u.id, u.record).where(
                u.institution == institution, u.primary_id_norm == normalise_id(primary_id)
            )
        ).first()
        if row is None:
            return
        user = stored_user(institution, row.record)
        user.linking_id = linking_id
        self._conn.execute(
            update(t.users)
            .where(u.id == row.id)
            .values(record=user_to_document(user), linking_id=linking_id)
        )

    def record(
        self, institution: str, actor: str | None, action: str, target: str,
        detail: dict[str, Any],
    ) -> None:
        self._conn.execute(
            insert(t.audit_log).values(
                at=datetime.now(UTC),
                institution=institution,
                actor=(actor or "")[:255] or None,
                action=action[:64],
                target=target[:255],
                detail=detail,
            )
        )

    def history(self, institution: str, target: str) -> list[dict[str, Any]]:
        a = t.audit_log.c
        rows = self._conn.execute(
            select(a.at, a.actor, a.action, a.target, a.detail)
            .where(a.institution == institution, a.target == target)
            .order_by(a.id)
        )
        return [
            {"at": r.at, "actor": r.actor, "action": r.action, "target": r.target,
             "detail": r.detail}
            for r in rows
        ]

    # -- the outbox ----------------------------------------------------------------------

    @staticmethod
    def _entry(row: Any) -> OutboxEntry:
        return OutboxEntry(row.id, row.institution, row.link_id, row.source_pk,
                           OutboxKind(row.kind), row.attempts)

    def pending(self, limit: int) -> list[OutboxEntry]:
        o = t.network_outbox.c
        rows = self._conn.execute(
            select(o.id, o.institution, o.link_id, o.source_pk, o.kind, o.attempts)
            .order_by(o.id)
            .limit(limit)
        )
        return [self._entry(r) for r in rows]

    def lock_source(self, institution: str, link_id: str) -> None:
        if self._pg:
            self._conn.execute(
                select(func.pg_advisory_xact_lock(lock_key(institution, link_id)))
            )
        # SQLite: a writing transaction holds the database's one write lock (BEGIN
        # IMMEDIATE), so refreshes are applied one after the other anyway.

    def entries_of(self, institution: str, link_id: str, up_to: int) -> list[OutboxEntry]:
        o = t.network_outbox.c
        query = (
            select(o.id, o.institution, o.link_id, o.source_pk, o.kind, o.attempts)
            .where(o.institution == institution, o.link_id == link_id, o.id <= up_to)
            .order_by(o.id)
        )
        if self._pg:
            query = query.with_for_update()
        return [self._entry(r) for r in self._conn.execute(query)]

    def done(self, ids: Sequence[int]) -> None:
        o = t.network_outbox.c
        for start in range(0, len(ids), 5_000):
            self._conn.execute(
                delete(t.network_outbox).where(o.id.in_(list(ids[start : start + 5_000])))
            )

    def failed(self, entry_id: int, error: str) -> None:
        o = t.network_outbox.c
        self._conn.execute(
            update(t.network_outbox)
            .where(o.id == entry_id)
            .values(attempts=o.attempts + 1, last_error=error[:1000])
        )

    def waiting(self) -> int:
        count = self._conn.execute(select(func.count()).select_from(t.network_outbox))
        return int(count.scalar_one())
