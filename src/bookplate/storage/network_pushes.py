"""``PushRepository``: the remote hosts holding copies of a home's users, the pushes owed to
them (migration 0016_network_pushes), and on a host the newest push applied per home user."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bookplate.network.ports import PushEntry
from bookplate.storage import outbox
from bookplate.storage import tables as t
from bookplate.storage.network_bulk import PushBulk
from bookplate.storage.upsert import upsert

#: ``network_pushes.deleted``: what a push carries (a home's user, its deletion, or a host's
#: blocks for the home of its copy).
_CHANGED, _DELETED, _HOST_BLOCKS = 0, 1, 2


class SqlPushRepository(PushBulk):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record_remote_copy(self, institution: str, primary_id: str, host: str) -> None:
        u = t.users.c
        # One statement: the user's key read by the insert itself (no row when it is gone).
        found = select(u.institution, u.id, literal(host), literal(datetime.now(UTC))).where(
            u.institution == institution, u.primary_id == primary_id)
        adding = (postgresql.insert if self._conn.dialect.name == "postgresql"
                  else sqlite.insert)(t.network_remote_copies)
        self._conn.execute(
            adding.from_select(["institution", "source_pk", "host", "created_at"], found)
            .on_conflict_do_nothing(index_elements=["institution", "source_pk", "host"]))

    def remote_hosts(self, institution: str, source_pk: int) -> list[str]:
        r = t.network_remote_copies.c
        return list(self._conn.execute(
            select(r.host).where(r.institution == institution, r.source_pk == source_pk)
            .order_by(r.host)
        ).scalars())

    def forget_remote_copy(self, institution: str, source_pk: int, host: str) -> None:
        r = t.network_remote_copies.c
        self._conn.execute(delete(t.network_remote_copies).where(
            r.institution == institution, r.source_pk == source_pk, r.host == host))

    def owe(self, institution: str, source_pk: int, host: str, link_id: str, seq: int,
            deleted: bool) -> None:
        self._conn.execute(upsert(
            self._conn, t.network_pushes,
            {"institution": institution, "source_pk": source_pk, "host": host,
             "link_id": link_id, "seq": seq, "deleted": int(deleted), "attempts": 0,
             "last_error": None, "next_at": datetime.now(UTC)},
            ("institution", "source_pk", "host"), keep=("link_id", "attempts", "last_error"),
        ))

    def owe_host_blocks(self, institution: str, primary_id: str, home: str,
                        home_user_id: str) -> None:
        u = t.users.c
        pk = self._conn.execute(
            select(u.id).where(u.institution == institution, u.primary_id == primary_id)
        ).scalar_one_or_none()
        if pk is None:
            return
        self._conn.execute(upsert(
            self._conn, t.network_pushes,
            {"institution": institution, "source_pk": pk, "host": home,
             "link_id": home_user_id, "seq": self._next_seq(), "deleted": _HOST_BLOCKS,
             "attempts": 0, "last_error": None, "next_at": datetime.now(UTC)},
            ("institution", "source_pk", "host"),
        ))
        outbox.mark_written(self._conn)  # the worker is told after the commit

    def _next_seq(self) -> int:
        """A number after every push so far: the outbox's id counter (ids only grow,
        migration 0017), taken by a row written and removed in this transaction."""
        o = t.network_outbox
        pk = int(self._conn.execute(insert(o).values(
            institution="", link_id="", kind="sequence", created_at=datetime.now(UTC),
            attempts=0).returning(o.c.id)).scalar_one())
        self._conn.execute(delete(o).where(o.c.id == pk))
        return pk

    def _entries(self, query: object) -> list[PushEntry]:
        return [
            PushEntry(row.institution, row.source_pk, row.host, row.link_id, row.seq,
                      row.deleted == _DELETED, row.attempts, row.last_error,
                      row.deleted == _HOST_BLOCKS)
            for row in self._conn.execute(query)  # type: ignore[call-overload]  # (the select is built by the callers; typed as object to keep one reader)
        ]

    def due(self, now: datetime, limit: int) -> list[PushEntry]:
        p = t.network_pushes.c
        return self._entries(
            select(t.network_pushes).where(p.next_at <= now).order_by(p.seq).limit(limit))

    def waiting_pushes(self) -> list[PushEntry]:
        p = t.network_pushes.c
        return self._entries(select(t.network_pushes).order_by(p.seq))

    def delivered(self, entry: PushEntry) -> bool:
        p = t.network_pushes.c
        result = self._conn.execute(delete(t.network_pushes).where(
            p.institution == entry.institution, p.source_pk == entry.source_pk,
            p.host == entry.host, p.seq == entry.seq).returning(p.seq))
        return bool(result.all())

    def push_failed(self, entry: PushEntry, error: str, next_at: datetime) -> None:
        p = t.network_pushes.c
        self._conn.execute(update(t.network_pushes).where(
            p.institution == entry.institution, p.source_pk == entry.source_pk,
            p.host == entry.host,
        ).values(attempts=p.attempts + 1, last_error=error[:1000], next_at=next_at))

    def seen(self, institution: str, source_institution: str, source_pk: int) -> int | None:
        s = t.network_push_seen.c
        value = self._conn.execute(select(s.seq).where(
            s.institution == institution, s.source_institution == source_institution,
            s.source_pk == source_pk)).scalar_one_or_none()
        return None if value is None else int(value)

    def set_seen(self, institution: str, source_institution: str, source_pk: int,
                 seq: int) -> None:
        self._conn.execute(upsert(
            self._conn, t.network_push_seen,
            {"institution": institution, "source_institution": source_institution,
             "source_pk": source_pk, "seq": seq},
            ("institution", "source_institution", "source_pk"),
        ))
