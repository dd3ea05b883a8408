"""Storage for external sign-in: profiles, the SAML replay cache, pending sign-ins, and the
provider sessions behind Bookplate sessions (single logout).

Each call is its own short transaction, opened by ``storage.transaction`` like every other
(the tables are shared by every worker process); reads are read-only transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import IntegrityError

from bookplate.auth.model import Method, ProfileChange
from bookplate.auth.ports import Pending, SessionLink, StoredProfile
from bookplate.storage import tables as t
from bookplate.storage.transaction import transaction


def _row(r: Any) -> StoredProfile:
    return StoredProfile(r.institution, Method(r.method), r.code, dict(r.config))


#: Audit-log targets of sign-in profiles: ``signin:{method}:{code}``.
TARGET_PREFIX = "signin:"


def _audit(conn: Connection, institution: str, method: str, code: str,
           change: ProfileChange | None) -> None:
    if change is None:
        return
    conn.execute(t.audit_log.insert().values(
        at=datetime.now(UTC), institution=institution, actor=change.actor[:255] or None,
        action=change.action[:64], target=f"{TARGET_PREFIX}{method}:{code}"[:255],
        detail=change.detail))


class SqlProfileStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, profile: StoredProfile, now: datetime,
            change: ProfileChange | None = None) -> bool:
        p = t.auth_profiles
        key = (p.c.institution == profile.institution, p.c.method == profile.method.value,
               p.c.code == profile.code)
        with transaction(self._engine) as conn:
            existed = conn.execute(select(p.c.code).where(*key)).first() is not None
            conn.execute(delete(p).where(*key))
            conn.execute(p.insert().values(institution=profile.institution,
                                           method=profile.method.value, code=profile.code,
                                           config=profile.config, modified=now))
            _audit(conn, profile.institution, profile.method.value, profile.code, change)
        return not existed

    def get(self, institution: str, method: str, code: str) -> StoredProfile | None:
        p = t.auth_profiles
        with transaction(self._engine, read_only=True) as conn:
            r = conn.execute(select(p).where(p.c.institution == institution,
                                             p.c.method == method, p.c.code == code)).first()
        return _row(r) if r else None

    def history(self, institution: str, limit: int) -> list[dict[str, Any]]:
        a = t.audit_log
        stmt = (select(a).where(a.c.institution == institution,
                                a.c.target.startswith(TARGET_PREFIX, autoescape=True))
                .order_by(a.c.at.desc(), a.c.id.desc()).limit(limit))
        with transaction(self._engine, read_only=True) as conn:
            return [{"at": r.at, "actor": r.actor, "action": r.action,
                     "target": r.target.removeprefix(TARGET_PREFIX),
                     "detail": dict(r.detail or {})} for r in conn.execute(stmt).all()]

    def find(self, method: str, code: str) -> list[StoredProfile]:
        p = t.auth_profiles
        with transaction(self._engine, read_only=True) as conn:
            rows = conn.execute(select(p).where(p.c.method == method, p.c.code == code)).all()
        return [_row(r) for r in rows]

    def list(self, institution: str | None, method: str | None) -> list[StoredProfile]:
        p = t.auth_profiles
        stmt = select(p).order_by(p.c.institution, p.c.method, p.c.code)
        if institution is not None:
            stmt = stmt.where(p.c.institution == institution)
        if method is not None:
            stmt = stmt.where(p.c.method == method)
        with transaction(self._engine, read_only=True) as conn:
            return [_row(r) for r in conn.execute(stmt).all()]

    def remove(self, institution: str, method: str, code: str,
               change: ProfileChange | None = None) -> bool:
        p = t.auth_profiles
        with transaction(self._engine) as conn:
            done = conn.execute(delete(p).where(p.c.institution == institution,
                                                p.c.method == method, p.c.code == code))
            if done.rowcount:
                _audit(conn, institution, method, code, change)
        return bool(done.rowcount)


class SqlReplayCache:
    """``auth.ports.ReplayCache`` on ``saml_replay``: the primary key makes ``remember`` atomic
    across workers (the second insert of a key fails)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def remember(self, key: str, expires_at: datetime) -> bool:
        r = t.saml_replay
        now = datetime.now(UTC)
        with transaction(self._engine) as conn:
            old = select(r.c.key).where(r.c.expires_at < now).limit(100)
            conn.execute(delete(r).where(r.c.key.in_(old.scalar_subquery())))
        try:
            with transaction(self._engine) as conn:
                conn.execute(r.insert().values(key=key[:512], expires_at=expires_at))
        except IntegrityError:
            return False
        return True


class SqlPendingStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, token_hash: str, pending: Pending, expires_at: datetime) -> None:
        a = t.auth_pending
        now = datetime.now(UTC)
        with transaction(self._engine) as conn:
            old = select(a.c.token_hash).where(a.c.expires_at < now).limit(100)
            conn.execute(delete(a).where(a.c.token_hash.in_(old.scalar_subquery())))
            conn.execute(a.insert().values(token_hash=token_hash,
                                           institution=pending.institution,
                                           method=pending.method, code=pending.code,
                                           data=pending.data, expires_at=expires_at))

    def get(self, token_hash: str, now: datetime) -> Pending | None:
        a = t.auth_pending
        with transaction(self._engine, read_only=True) as conn:
            r = conn.execute(select(a).where(a.c.token_hash == token_hash,
                                             a.c.expires_at > now)).first()
        return Pending(r.institution, r.method, r.code, dict(r.data)) if r else None

    def take(self, token_hash: str, now: datetime) -> Pending | None:
        a = t.auth_pending
        with transaction(self._engine) as conn:
            r = conn.execute(select(a).where(a.c.token_hash == token_hash,
                                             a.c.expires_at > now)).first()
            if r is None:
                return None
            done = conn.execute(delete(a).where(a.c.token_hash == token_hash))
            if done.rowcount != 1:
                return None
        return Pending(r.institution, r.method, r.code, dict(r.data))


def _link(r: Any) -> SessionLink:
    return SessionLink(r.institution, r.method, r.code, r.subject, r.session_index,
                       {str(k): str(v) for k, v in dict(r.data).items()})


class SqlSessionLinkStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, session_hash: str, link: SessionLink, expires_at: datetime) -> None:
        s = t.auth_session_links
        now = datetime.now(UTC)
        with transaction(self._engine) as conn:
            old = select(s.c.session_hash).where(s.c.expires_at < now).limit(100)
            conn.execute(delete(s).where(s.c.session_hash.in_(old.scalar_subquery())))
            conn.execute(s.insert().values(
                session_hash=session_hash, institution=link.institution, method=link.method,
                code=link.code, subject=link.subject[:512],
                session_index=link.session_index[:512] if link.session_index else None,
                data=link.data, expires_at=expires_at))

    def take(self, session_hash: str, now: datetime) -> SessionLink | None:
        s = t.auth_session_links
        with transaction(self._engine) as conn:
            r = conn.execute(select(s).where(s.c.session_hash == session_hash,
                                             s.c.expires_at > now)).first()
            conn.execute(delete(s).where(s.c.session_hash == session_hash))
        return _link(r) if r is not None else None

    def take_matching(self, institution: str, method: str, code: str, subject: str | None,
                      session_indexes: tuple[str, ...], now: datetime) -> list[str]:
        s = t.auth_session_links
        where = [s.c.institution == institution, s.c.method == method, s.c.code == code,
                 s.c.expires_at > now]
        if subject is not None:
            where.append(s.c.subject == subject)
        if session_indexes:
            where.append(s.c.session_index.in_(list(session_indexes)))
        with transaction(self._engine) as conn:
            hashes = [str(h) for h in conn.execute(select(s.c.session_hash).where(*where))
                      .scalars()]
            if hashes:
                conn.execute(delete(s).where(s.c.session_hash.in_(hashes)))
        return hashes

