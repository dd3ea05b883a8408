"""``ApiKeyRepository``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from bookplate.keys.model import Access, ApiKey, Area
from bookplate.storage import tables as t
from bookplate.storage.rows import utc


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return utc(value)


def _areas(stored: Any) -> dict[Area, Access]:
    known_areas = {a.value for a in Area}
    known_access = {a.value for a in Access}
    return {
        Area(k): Access(v)
        for k, v in dict(stored or {}).items()
        if k in known_areas and v in known_access
    }


class SqlApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    _columns = (
        t.api_keys.c.key_id,
        t.api_keys.c.institution,
        t.api_keys.c.name,
        t.api_keys.c.areas,
        t.api_keys.c.per_second,
        t.api_keys.c.created,
        t.api_keys.c.revoked,
        t.api_keys.c.last_used_at,
    )

    @staticmethod
    def _key(row: Any) -> ApiKey:
        return ApiKey(
            key_id=row.key_id,
            institution=row.institution,
            name=row.name,
            areas=_areas(row.areas),
            per_second=row.per_second,
            created=aware(row.created),
            revoked=aware(row.revoked),
            last_used=aware(row.last_used_at),
        )

    def add(self, key: ApiKey, secret_hash: str) -> None:
        self._conn.execute(
            insert(t.api_keys).values(
                key_id=key.key_id,
                institution=key.institution,
                name=key.name,
                secret_hash=secret_hash,
                areas={Area(k).value: Access(v).value for k, v in key.areas.items()},
                per_second=key.per_second,
                created=utc(key.created) or datetime.now(UTC),
                revoked=utc(key.revoked),
            )
        )

    def by_hash(self, secret_hash: str) -> ApiKey | None:
        row = self._conn.execute(
            select(*self._columns).where(t.api_keys.c.secret_hash == secret_hash)
        ).first()
        return self._key(row) if row else None

    def list(self, institution: str | None = None) -> list[ApiKey]:
        query = select(*self._columns).order_by(t.api_keys.c.created, t.api_keys.c.key_id)
        if institution is not None:
            query = query.where(t.api_keys.c.institution == institution)
        return [self._key(r) for r in self._conn.execute(query)]

    def get(self, key_id: str) -> ApiKey | None:
        row = self._conn.execute(
            select(*self._columns).where(t.api_keys.c.key_id == key_id)
        ).first()
        return self._key(row) if row else None

    def touch(self, key_id: str, at: datetime, not_since: datetime) -> None:
        k = t.api_keys.c
        self._conn.execute(
            update(t.api_keys)
            .where(k.key_id == key_id, or_(k.last_used_at.is_(None), k.last_used_at < not_since))
            .values(last_used_at=at)
        )

    def record(
        self, institution: str, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        self._conn.execute(insert(t.audit_log).values(
            at=datetime.now(UTC), institution=institution, actor=actor[:255],
            action=action[:64], target=target[:255], detail=detail,
        ))

    def revoke(self, key_id: str) -> bool:
        result = self._conn.execute(
            update(t.api_keys)
            .where(t.api_keys.c.key_id == key_id, t.api_keys.c.revoked.is_(None))
            .values(revoked=datetime.now(UTC))
        )
        return bool(result.rowcount)
