"""Storage for authentication: sessions, login events, reset links, signing keys, and the
failed-login counter used when no Redis is configured. Each call is its own short
transaction, opened by ``storage.transaction`` like every other (none of it belongs in a
user's unit of work); reads are read-only transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bookplate.auth.ports import LoginEvent, Session, SigningKey
from bookplate.storage import tables as t
from bookplate.storage.transaction import transaction


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert(conn: Connection, table: Any) -> Any:
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


class SqlAuthStore:
    """``auth.ports.AuthStore`` on the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # sessions
    def add_session(self, session: Session) -> None:
        s = t.auth_sessions
        with transaction(self._engine) as conn:
            conn.execute(s.insert().values(
                token_hash=session.token_hash, institution=session.institution,
                primary_id=session.primary_id, method=session.method, csrf=session.csrf,
                created_at=session.created_at, expires_at=session.expires_at,
            ))
            # Sweep a few expired sessions on each sign-in so the table does not grow forever.
            old = select(s.c.token_hash).where(s.c.expires_at < session.created_at).limit(50)
            conn.execute(delete(s).where(s.c.token_hash.in_(old.scalar_subquery())))

    def session(self, token_hash: str, now: datetime) -> Session | None:
        s = t.auth_sessions
        with transaction(self._engine, read_only=True) as conn:
            row = conn.execute(
                select(s).where(s.c.token_hash == token_hash, s.c.expires_at > now)
            ).first()
        if row is None:
            return None
        return Session(row.token_hash, row.institution, row.primary_id, row.method, row.csrf,
                       _utc(row.created_at) or now, _utc(row.expires_at) or now)

    def remove_session(self, token_hash: str) -> None:
        with transaction(self._engine) as conn:
            conn.execute(delete(t.auth_sessions).where(t.auth_sessions.c.token_hash == token_hash))

    def remove_user_sessions(self, institution: str, primary_id: str,
                             keep: str | None = None) -> int:
        s = t.auth_sessions
        stmt = delete(s).where(s.c.institution == institution, s.c.primary_id == primary_id)
        if keep is not None:
            stmt = stmt.where(s.c.token_hash != keep)
        with transaction(self._engine) as conn:
            return int(conn.execute(stmt).rowcount)

    # sign-in profiles
    def profile_allows_local_password(self, institution: str, code: str) -> bool:
        p = t.auth_profiles
        with transaction(self._engine, read_only=True) as conn:
            configs = conn.execute(select(p.c.config).where(
                p.c.institution == institution, p.c.code == code)).scalars().all()
        return any(isinstance(c, dict) and isinstance(c.get("mapping"), dict)
                   and c["mapping"].get("local_password") is True for c in configs)

    # login events
    def record_event(self, event: LoginEvent) -> None:
        with transaction(self._engine) as conn:
            conn.execute(t.login_events.insert().values(
                institution=event.institution, login_name=event.login_name,
                primary_id=event.primary_id, method=event.method, success=event.success,
                staff=event.staff, at=event.at, address=(event.address or None) and
                event.address[:64], reason=(event.reason or None) and event.reason[:255],
            ))

    def events(
        self,
        institution: str,
        date_from: datetime | None,
        date_to: datetime | None,
        successful: bool | None,
        staff_only: bool,
        limit: int,
        offset: int,
        user: str | None = None,
    ) -> tuple[list[LoginEvent], int]:
        e = t.login_events
        cond = [e.c.institution == institution]
        if user:
            cond.append(or_(e.c.login_name == user, e.c.primary_id == user))
        if staff_only:
            cond.append(e.c.staff.is_(True))
        if date_from is not None:
            cond.append(e.c.at >= date_from)
        if date_to is not None:
            cond.append(e.c.at < date_to)
        if successful is not None:
            cond.append(e.c.success.is_(successful))
        where = and_(*cond)
        with transaction(self._engine, read_only=True) as conn:
            total = conn.execute(select(func.count()).select_from(e).where(where)).scalar_one()
            rows = conn.execute(
                select(e).where(where).order_by(e.c.at.desc(), e.c.id.desc())
                .limit(limit).offset(offset)
            ).all()
        return [
            LoginEvent(r.institution, r.login_name, r.primary_id, r.method, r.success, r.staff,
                       _utc(r.at) or datetime.now(UTC), r.address, r.reason)
            for r in rows
        ], int(total)

    # password resets
    def add_reset(self, token_hash: str, institution: str, primary_id: str,
                  expires_at: datetime) -> None:
        with transaction(self._engine) as conn:
            conn.execute(t.password_resets.insert().values(
                token_hash=token_hash, institution=institution, primary_id=primary_id,
                expires_at=expires_at, used_at=None,
            ))

    def reset_target(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        r = t.password_resets
        with transaction(self._engine, read_only=True) as conn:
            row = conn.execute(select(r.c.institution, r.c.primary_id).where(
                r.c.token_hash == token_hash, r.c.used_at.is_(None), r.c.expires_at > now
            )).first()
        return (row.institution, row.primary_id) if row else None

    def use_reset(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        r = t.password_resets
        with transaction(self._engine) as conn:
            done = conn.execute(update(r).where(
                r.c.token_hash == token_hash, r.c.used_at.is_(None), r.c.expires_at > now
            ).values(used_at=now))
            if done.rowcount != 1:
                return None
            row = conn.execute(select(r.c.institution, r.c.primary_id)
                               .where(r.c.token_hash == token_hash)).one()
        return row.institution, row.primary_id

    # signing keys
    def signing_keys(self, institution: str) -> list[SigningKey]:
        k = t.signing_keys
        with transaction(self._engine, read_only=True) as conn:
            rows = conn.execute(select(k).where(k.c.institution == institution)
                                .order_by(k.c.created_at.desc())).all()
        return [SigningKey(r.kid, r.institution, r.private_pem,
                           _utc(r.created_at) or datetime.now(UTC), _utc(r.retired_at))
                for r in rows]

    def add_signing_key(self, key: SigningKey, retire_before: datetime) -> None:
        k = t.signing_keys
        with transaction(self._engine) as conn:
            conn.execute(update(k).where(k.c.institution == key.institution,
                                         k.c.retired_at.is_(None))
                         .values(retired_at=key.created_at))
            conn.execute(delete(k).where(k.c.institution == key.institution,
                                         k.c.retired_at < retire_before))
            conn.execute(k.insert().values(kid=key.kid, institution=key.institution,
                                           private_pem=key.private_pem,
                                           created_at=key.created_at, retired_at=None))


def _count(conn: Connection, key: str, second: int, window: int) -> int:
    """One atomic upsert on ``login_failures``: the count of ``key`` after this event; a
    count whose last event is more than ``window`` seconds old starts again at 1."""
    f = t.login_failures
    stmt = _insert(conn, f).values(account=key, failures=1, last_failure=second, locked_until=0)
    stale = f.c.last_failure < second - window
    stmt = stmt.on_conflict_do_update(
        index_elements=["account"],
        set_={"failures": case((stale, 1), else_=f.c.failures + 1), "last_failure": second},
    ).returning(f.c.failures)
    return int(conn.execute(stmt).scalar_one())


class SqlAttemptCounter:
    """``auth.ports.AttemptCounter`` on ``login_failures`` (keys ``reset:…``, apart from the
    accounts' ``institution:id`` keys): the same atomic upsert as a failed sign-in."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hit(self, key: str, now: float, window_seconds: int) -> int:
        with transaction(self._engine) as conn:
            return _count(conn, key, int(now), window_seconds)


class SqlLockoutCounter:
    """``auth.ports.LockoutCounter`` on ``login_failures``: one atomic upsert per failure,
    so every worker process sees the same count."""

    def __init__(self, engine: Engine, limit: int = 15, lock_seconds: int = 1800) -> None:
        self._engine = engine
        self._limit = limit
        self._lock = lock_seconds

    def is_locked(self, key: str, now: float) -> bool:
        f = t.login_failures
        with transaction(self._engine, read_only=True) as conn:
            until = conn.execute(select(f.c.locked_until).where(f.c.account == key)).scalar()
        return until is not None and until > now

    def failure(self, key: str, now: float) -> bool:
        f = t.login_failures
        second = int(now)
        with transaction(self._engine) as conn:
            # A failure long after the previous one starts a new count.
            count = _count(conn, key, second, self._lock)
            if count >= self._limit:
                conn.execute(update(f).where(f.c.account == key)
                             .values(failures=0, locked_until=second + self._lock))
                return True
        return False

    def clear(self, key: str) -> None:
        f = t.login_failures
        with transaction(self._engine) as conn:
            conn.execute(delete(f).where(f.c.account == key))
