"""``InstitutionRepository``: institutions and the network's ID uniqueness rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import NETWORK_SCOPE_KEY, IdScope, Institution
from bookplate.storage import tables as t
from bookplate.storage.upsert import upsert
from bookplate.users.errors import DuplicateId

ID_SCOPE_KEY = "id_scope"


def read_id_scope(conn: Connection) -> IdScope:
    value = conn.execute(
        select(t.network_settings.c.value).where(t.network_settings.c.key == ID_SCOPE_KEY)
    ).scalar_one_or_none()
    return IdScope(value) if value else IdScope.NETWORK


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

    def set_id_scope(self, scope: IdScope) -> None:
        ids, users = t.user_ids, t.users
        new_scope: Any
        if scope is IdScope.NETWORK:
            new_scope = literal(NETWORK_SCOPE_KEY)
        else:
            new_scope = (
                select(users.c.institution).where(users.c.id == ids.c.user_pk).scalar_subquery()
            )
        clash = self._conn.execute(
            select(ids.c.value_norm, func.min(ids.c.id_type))
            .select_from(ids.join(users, users.c.id == ids.c.user_pk))
            .group_by(
                *([users.c.institution] if scope is IdScope.INSTITUTION else []),
                ids.c.value_norm,
            )
            .having(func.count() > 1)
            .limit(1)
        ).first()
        if clash is not None:
            raise DuplicateId(clash[0], clash[1])
        try:
            with self._conn.begin_nested():
                self._conn.execute(update(ids).values(scope=new_scope))
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
