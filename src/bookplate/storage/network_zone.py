"""``ZoneRepository``: the deployment's Network Zone, its central institution (a row of
``network_settings``) and its members (``network_zone_members``, migration 0018)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select

from bookplate.storage import tables as t
from bookplate.storage.upsert import upsert

CENTRAL_KEY = "zone_central"


class SqlZoneRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def central(self) -> str | None:
        s = t.network_settings.c
        value = self._conn.execute(
            select(s.value).where(s.key == CENTRAL_KEY)).scalar_one_or_none()
        return str(value) if value else None

    def set_central(self, code: str | None) -> None:
        s = t.network_settings.c
        if code is None:
            self._conn.execute(delete(t.network_settings).where(s.key == CENTRAL_KEY))
            return
        self._conn.execute(upsert(self._conn, t.network_settings,
                                  {"key": CENTRAL_KEY, "value": code}, ["key"]))

    def members(self) -> list[str]:
        m = t.network_zone_members.c
        return list(self._conn.execute(select(m.member).order_by(m.member)).scalars())

    def is_member(self, code: str) -> bool:
        m = t.network_zone_members.c
        return self._conn.execute(
            select(m.member).where(m.member == code)).first() is not None

    def add_member(self, code: str, actor: str | None) -> bool:
        if self.is_member(code):
            return False
        self._conn.execute(upsert(
            self._conn, t.network_zone_members,
            {"member": code, "added_at": datetime.now(UTC), "added_by": (actor or "")[:255]},
            ["member"], nothing=True))
        return True

    def remove_member(self, code: str) -> bool:
        m = t.network_zone_members.c
        result = self._conn.execute(delete(t.network_zone_members).where(m.member == code))
        return bool(result.rowcount)
