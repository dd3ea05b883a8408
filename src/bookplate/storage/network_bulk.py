"""The outbox worker's reads and writes for a group of source users at once
(``NetworkRepository`` / ``PushRepository``, mixed into their SQL classes): the groups' locks,
entries, sources, copies and remote hosts each in one statement, their history lines in one
COPY. On PostgreSQL the keys go as arrays, each looked up through its index by a lateral
subquery (``OFFSET 0`` keeps it apart, as in ``sis_sql``), on the driver's cursor; SQLite,
in-process, takes IN lists of row values."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_

from bookplate.network.model import OutboxEntry, OutboxKind
from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.sis_sql import SisConnection, chunks
from bookplate.users.model import User

Key = tuple[str, str]  # (institution, link ID): one source user

_PG_TRY_LOCKS = (
    "SELECT s.k, pg_try_advisory_xact_lock(s.k) FROM (SELECT DISTINCT k"
    " FROM unnest(CAST(%(keys)b AS bigint[])) AS k ORDER BY k) AS s"
)
_PG_ENTRIES = (
    "SELECT o.id, o.institution, o.link_id, o.source_pk, o.kind, o.attempts"
    " FROM unnest(CAST(%(insts)b AS text[]), CAST(%(links)b AS text[]),"
    " CAST(%(ups)b AS integer[])) AS k(inst, link, up)"
    " CROSS JOIN LATERAL (SELECT id, institution, link_id, source_pk, kind, attempts"
    " FROM network_outbox WHERE institution = k.inst AND link_id = k.link AND id <= k.up"
    " OFFSET 0) AS o ORDER BY o.id"
)
_PG_LOAD = "SELECT id, institution, record FROM users WHERE id = ANY(CAST(%(pks)b AS integer[]))"
_PG_COPIES = (
    "SELECT k.inst, k.link, c.institution, c.record"
    " FROM unnest(CAST(%(insts)b AS text[]), CAST(%(links)b AS text[])) AS k(inst, link)"
    " CROSS JOIN LATERAL (SELECT id, institution, record FROM users"
    " WHERE source_institution_code = k.inst AND source_link_id = k.link OFFSET 0) AS c"
    " ORDER BY c.id"
)
_AUDIT_COLUMNS = ("at", "institution", "actor", "action", "target", "detail")

#: ``(institution, actor, action, target, detail)``: one line of a user's history.
HistoryLine = tuple[str, str | None, str, str, dict[str, Any] | None]


def lock_key(institution: str, link_id: str) -> int:
    """A 32-bit key for pg_advisory_xact_lock from one source user."""
    return zlib.crc32(f"bookplate-network\x00{institution}\x00{link_id}".encode())


def write_history(conn: Connection, lines: Sequence[HistoryLine]) -> None:
    """History lines stamped now: one COPY on PostgreSQL, one multi-row insert elsewhere."""
    if not lines:
        return
    now = datetime.now(UTC)
    driver = SisConnection(conn)
    if driver._pg:
        driver._copy("audit_log", _AUDIT_COLUMNS, [
            (now, inst, (actor or "")[:255] or None, action[:64], target[:255],
             None if detail is None else json.dumps(detail))
            for inst, actor, action, target, detail in lines
        ])
        return
    conn.execute(insert(t.audit_log), [
        {"at": now, "institution": inst, "actor": (actor or "")[:255] or None,
         "action": action[:64], "target": target[:255], "detail": detail}
        for inst, actor, action, target, detail in lines
    ])


def _entry(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(row[0], row[1], row[2], row[3], OutboxKind(row[4]), row[5])


class NetworkBulk:
    """``NetworkRepository``'s group methods over ``self._conn``."""

    _conn: Connection
    _pg: bool

    def _driver_rows(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return SisConnection(self._conn)._driver_rows(statement, params)

    def try_lock_sources(self, keys: Sequence[Key]) -> list[Key]:
        if not self._pg:
            # SQLite: the writing transaction holds the database's one write lock.
            return list(keys)
        wanted = {key: lock_key(*key) for key in keys}
        got = {k for k, ok in self._driver_rows(_PG_TRY_LOCKS, {"keys": list(wanted.values())})
               if ok}
        return [key for key in keys if wanted[key] in got]

    def entries_of_sources(self, sources: Sequence[tuple[str, str, int]]) -> list[OutboxEntry]:
        if not sources:
            return []
        if self._pg:
            params = {"insts": [s[0] for s in sources], "links": [s[1] for s in sources],
                      "ups": [s[2] for s in sources]}
            return [_entry(row) for row in self._driver_rows(_PG_ENTRIES, params)]
        o = t.network_outbox.c
        up_to = {(inst, link): up for inst, link, up in sources}
        found = []
        for part in chunks(list(up_to), 400):
            rows = self._conn.execute(
                select(o.id, o.institution, o.link_id, o.source_pk, o.kind, o.attempts)
                .where(tuple_(o.institution, o.link_id).in_(list(part)))
            )
            found += [_entry(r) for r in rows if r[0] <= up_to[r[1], r[2]]]
        return sorted(found, key=lambda e: e.id)

    def load_many(self, pks: Sequence[int]) -> dict[int, User]:
        if not pks:
            return {}
        if self._pg:
            rows = self._driver_rows(_PG_LOAD, {"pks": list(pks)})
        else:
            u = t.users.c
            rows = []
            for part in chunks(list(pks)):
                rows += [tuple(r) for r in self._conn.execute(
                    select(u.id, u.institution, u.record).where(u.id.in_(list(part))))]
        return {pk: stored_user(institution, record) for pk, institution, record in rows}

    def copies_of_sources(self, keys: Sequence[Key]) -> dict[Key, list[User]]:
        out: dict[Key, list[User]] = {key: [] for key in keys}
        if not keys:
            return out
        if self._pg:
            params = {"insts": [k[0] for k in keys], "links": [k[1] for k in keys]}
            for inst, link, institution, record in self._driver_rows(_PG_COPIES, params):
                out[inst, link].append(stored_user(institution, record))
            return out
        u = t.users.c
        for part in chunks(list(keys), 400):
            rows = self._conn.execute(
                select(u.source_institution_code, u.source_link_id, u.institution, u.record)
                .where(tuple_(u.source_institution_code, u.source_link_id).in_(list(part)))
                .order_by(u.id)
            )
            for inst, link, institution, record in rows:
                out[inst, link].append(stored_user(institution, record))
        return out

    def record_many(self, lines: Sequence[HistoryLine]) -> None:
        write_history(self._conn, lines)


class PushBulk:
    """``PushRepository.remote_hosts_of`` over ``self._conn``."""

    _conn: Connection

    def remote_hosts_of(self, users: Sequence[tuple[str, int]]) -> dict[tuple[str, int], list[str]]:
        r = t.network_remote_copies.c
        out: dict[tuple[str, int], list[str]] = {}
        for part in chunks(sorted(set(users)), 400):
            rows = self._conn.execute(
                select(r.institution, r.source_pk, r.host)
                .where(tuple_(r.institution, r.source_pk).in_(list(part)))
                .order_by(r.host)
            )
            for institution, pk, host in rows:
                out.setdefault((institution, pk), []).append(host)
        return out
