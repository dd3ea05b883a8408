"""Storage of self-registrations (``auth.ports.RegistrationStore``): the ``registrations``
table and, when one leaves the queue, its line in the users' history (``audit_log``). Each
call is its own short transaction on the engine, like the other sign-in stores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update

from bookplate.auth.model import Registration
from bookplate.storage import tables as t
from bookplate.storage.transaction import transaction


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _registration(row: Any) -> Registration:
    return Registration(
        row.institution, row.primary_id, row.email, _utc(row.created_at),
        _utc(row.link_expires_at), _utc(row.confirmed_at) if row.confirmed_at else None,
        row.address,
    )


class SqlRegistrationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, registration: Registration, token_hash: str) -> None:
        r = registration
        with transaction(self._engine) as conn:
            conn.execute(t.registrations.insert().values(
                institution=r.institution, primary_id=r.primary_id, email=r.email,
                token_hash=token_hash, created_at=r.created_at,
                link_expires_at=r.link_expires_at, confirmed_at=r.confirmed_at,
                address=r.address,
            ))

    def get(self, institution: str, primary_id: str) -> Registration | None:
        g = t.registrations
        with transaction(self._engine, read_only=True) as conn:
            row = conn.execute(select(g).where(g.c.institution == institution,
                                               g.c.primary_id == primary_id)).first()
        return _registration(row) if row else None

    def by_email(self, institution: str, email: str) -> list[Registration]:
        g = t.registrations
        with transaction(self._engine, read_only=True) as conn:
            rows = conn.execute(select(g).where(g.c.institution == institution,
                                                g.c.email == email)).all()
        return [_registration(row) for row in rows]

    def by_link(self, token_hash: str, now: datetime) -> Registration | None:
        g = t.registrations
        with transaction(self._engine, read_only=True) as conn:
            row = conn.execute(select(g).where(
                g.c.token_hash == token_hash, g.c.confirmed_at.is_(None),
                g.c.link_expires_at > now)).first()
        return _registration(row) if row else None

    def confirm(self, token_hash: str, now: datetime) -> bool:
        g = t.registrations
        with transaction(self._engine) as conn:
            done = conn.execute(update(g).where(
                g.c.token_hash == token_hash, g.c.confirmed_at.is_(None),
                g.c.link_expires_at > now).values(confirmed_at=now, token_hash=None))
        return done.rowcount == 1

    def pending(self, institution: str, limit: int) -> list[Registration]:
        g = t.registrations
        with transaction(self._engine, read_only=True) as conn:
            rows = conn.execute(select(g).where(g.c.institution == institution)
                                .order_by(g.c.created_at, g.c.primary_id).limit(limit)).all()
        return [_registration(row) for row in rows]

    def remove(self, institution: str, primary_id: str, actor: str, action: str,
               detail: Mapping[str, Any]) -> bool:
        """The history line goes to the registration's user and, for a merge
        (``detail["into"]``), to the user it was merged into as well."""
        g = t.registrations
        at = datetime.now(UTC)
        targets = [primary_id, *([str(detail["into"])] if detail.get("into") else [])]
        with transaction(self._engine) as conn:
            done = conn.execute(delete(g).where(g.c.institution == institution,
                                                g.c.primary_id == primary_id))
            if done.rowcount != 1:
                return False
            for target in targets:
                conn.execute(t.audit_log.insert().values(
                    at=at, institution=institution, actor=actor, action=action,
                    target=target, detail={"registration": primary_id, **detail}))
        return True
