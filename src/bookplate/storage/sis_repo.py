"""Storage of the SIS area: profiles, runs and report items, fingerprints, set-based writes.

Each ``SqlSisBatch`` is one transaction. Writes are set-based: one multi-row statement per
table and batch (COPY on PostgreSQL for the new rows), never per-row ORM work.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import uniqueness_scope
from bookplate.sis.model import Mode, Profile, Report
from bookplate.sis.ports import AuditRow, Found, Holder, ItemRow
from bookplate.storage import tables as t
from bookplate.storage.bulk import _USER_COLUMNS, _Batch, _reserve_pks
from bookplate.storage.copy_types import copy_binary
from bookplate.storage.documents import stored_user
from bookplate.storage.engine import READ_ONLY_OPTION, SQLITE_BEGIN_OPTION
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import user_row, utc
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import User

CHUNK = 900  # bound parameters per IN list (SQLite's limit is far above)
MISSING_PAGE = 5000  # users read at a time by ``missing_users``

# PostgreSQL: a batch's keys as one array, each key looked up through its index by a lateral
# subquery (``OFFSET 0`` keeps it from being flattened into a join). Planned as joins, these
# read the whole table when its statistics were stale after a load (an IN list was a
# sequential scan; an unnest join a hash join over every user of the institution). Sent on the
# driver's cursor with the array in binary (``SqlSisBatch._driver_rows``): as text, each of a
# batch's tens of thousands of keys was escaped by psycopg and parsed by the server, about
# twice the time of the binary form.
# A read-only batch: any write raises before it is sent; on SQLite it begins DEFERRED.
_READ_ONLY = {READ_ONLY_OPTION: True, SQLITE_BEGIN_OPTION: "DEFERRED"}

_PG_LOOKUP_PRIMARY = (
    "SELECT k.norm, u.id, u.last_modified_date, f.fingerprint, f.modified, u.primary_id"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT id, last_modified_date, primary_id FROM users"
    ' WHERE institution = %(institution)s AND primary_id_norm = k.norm COLLATE "C" OFFSET 0) AS u'
    " LEFT JOIN LATERAL (SELECT fingerprint, modified FROM sis_fingerprints"
    " WHERE user_pk = u.id OFFSET 0) AS f ON true"
)
_PG_LOOKUP_IDENTIFIER = (
    "SELECT k.norm, u.id, u.last_modified_date, f.fingerprint, f.modified, u.primary_id"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT user_pk FROM user_identifiers"
    ' WHERE id_type = %(id_type)s AND value_norm = k.norm COLLATE "C" OFFSET 0) AS i'
    " CROSS JOIN LATERAL (SELECT id, last_modified_date, primary_id FROM users"
    " WHERE id = i.user_pk AND institution = %(institution)s OFFSET 0) AS u"
    " LEFT JOIN LATERAL (SELECT fingerprint, modified FROM sis_fingerprints"
    " WHERE user_pk = u.id OFFSET 0) AS f ON true"
)
# One index look-up per ID, forced by the lateral subqueries (OFFSET 0 keeps them apart): as
# a plain join the planner hashed every ID of the scope (all of them when IDs are unique
# network-wide), so each batch's check read the whole table and a sync slowed down as it
# went (100,000 users: 1 ms for the first batch, 390 ms for the twentieth).
_PG_HOLDERS = (
    "SELECT i.value_norm, i.user_pk, u.primary_id, i.id_type"
    " FROM unnest(CAST(%(norms)b AS text[])) AS k(norm)"
    " CROSS JOIN LATERAL (SELECT value_norm, user_pk, id_type FROM user_ids"
    ' WHERE scope = %(scope)s AND value_norm = k.norm COLLATE "C" OFFSET 0) AS i'
    " CROSS JOIN LATERAL (SELECT primary_id FROM users WHERE id = i.user_pk OFFSET 0) AS u"
)


_PG_MODIFIED = (
    "SELECT u.id, u.last_modified_date FROM unnest(CAST(%(pks)b AS integer[])) AS k(pk)"
    " CROSS JOIN LATERAL (SELECT id, last_modified_date FROM users WHERE id = k.pk OFFSET 0) AS u"
)
# Fingerprints of users that may have one: updated in place, inserted where missing. Sent on
# the driver's cursor with its arrays in binary (``SqlSisBatch._driver_execute``). Only for
# users still there: one removed since the plan read it gets no row (the side tables have no
# foreign keys, nothing would remove it).
_PG_UPSERT_FINGERPRINTS = (
    "INSERT INTO sis_fingerprints (user_pk, fingerprint, modified) SELECT k.* FROM unnest("
    "CAST(%(pks)b AS integer[]), CAST(%(fps)b AS text[]), CAST(%(modified)b AS timestamptz[]))"
    " AS k(pk, fp, modified) WHERE EXISTS (SELECT 1 FROM users WHERE id = k.pk)"
    " ON CONFLICT (user_pk) DO UPDATE"
    " SET fingerprint = excluded.fingerprint, modified = excluded.modified"
)
_UPSERT_FINGERPRINTS = (
    "INSERT INTO sis_fingerprints (user_pk, fingerprint, modified)"
    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)"
    " ON CONFLICT (user_pk) DO UPDATE"
    " SET fingerprint = excluded.fingerprint, modified = excluded.modified"
)
# An update's new rows go through a temporary table of the session (``_update_users_pg``).
_PG_UPDATES = "sis_user_updates"
_PG_UPDATE_TABLE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PG_UPDATES} (LIKE users) ON COMMIT DELETE ROWS"
)
_PG_UPDATE_COLUMNS = tuple(c for c in _USER_COLUMNS if c != "password_hash")
_PG_UPDATE_USERS = (
    "UPDATE users AS u SET "  # noqa: S608 - column names of the table definition
    + ", ".join(f"{c} = s.{c}" for c in _PG_UPDATE_COLUMNS if c != "id")
    + f" FROM {_PG_UPDATES} AS s WHERE u.id = s.id"
)


# The key each side table's rows are deleted by in an update (the primary key; on user_ids the
# user too), with the PostgreSQL array type its values are sent as.
_SIDE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "user_ids": (("scope", "text"), ("value_norm", "text"), ("user_pk", "integer")),
    "user_identifiers": (("user_pk", "integer"), ("id_type", "text"), ("value_norm", "text")),
    "user_terms": (("user_pk", "integer"), ("field", "text"), ("term", "text")),
}


def _pg_side_rows(table: str, columns: Sequence[str]) -> str:
    """A batch's rows of a side table, found key by key through the table's index on
    ``user_pk``: a lateral subquery per key (``OFFSET 0`` keeps it from being flattened into a
    join), so a table whose statistics are stale (just filled by a load) is never read whole
    by a hash join. In psycopg's parameter style: it is sent on the driver's cursor."""
    return (
        f"SELECT {', '.join('x.' + c for c in columns)}"  # noqa: S608 - table definition names
        " FROM unnest(CAST(%(pks)b AS integer[])) AS k(pk)"
        f" CROSS JOIN LATERAL (SELECT {', '.join(columns)} FROM {table}"
        " WHERE user_pk = k.pk OFFSET 0) AS x"
    )


def _pg_delete_rows(table: str, keys: Sequence[tuple[str, str]]) -> str:
    """Delete rows of a side table named by their key columns (one array per column), each
    found through the primary key's index by a lateral subquery (as in ``_pg_side_rows``)."""
    arrays = ", ".join(f"CAST(%({c})b AS {kind}[])" for c, kind in keys)
    match = " AND ".join(f"{c} = k.{c}" for c, _ in keys)
    return (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("  # noqa: S608 - names from _SIDE_KEYS
        f" SELECT x.ctid FROM unnest({arrays}) AS k({', '.join(c for c, _ in keys)})"
        f" CROSS JOIN LATERAL (SELECT ctid FROM {table} WHERE {match} OFFSET 0) AS x))"
    )


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return a == b


class _Prepared:
    """New users' rows built ahead of their write (``SqlSisBatch.prepare``)."""

    def __init__(self, users: list[User], pks: list[int], rows: _Batch) -> None:
        self.users = users
        self.pks = pks
        self.rows = rows

    def fits(self, users: Sequence[User]) -> bool:
        """Were these rows built from exactly these user objects, in this order?"""
        return len(users) == len(self.users) and all(
            a is b for a, b in zip(users, self.users, strict=True)
        )


class SqlSisBatch:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"

    # -- reads -------------------------------------------------------------------------

    def lookup(
        self, institution: str, match_id_type: str, norms: Sequence[str]
    ) -> dict[str, Found]:
        u, f = t.users, t.sis_fingerprints
        out: dict[str, Found] = {}
        if self._pg:
            statement = (
                _PG_LOOKUP_PRIMARY if match_id_type == "primary_id" else _PG_LOOKUP_IDENTIFIER
            )
            params = {"norms": list(norms), "institution": institution, "id_type": match_id_type}
            for norm, pk, modified, fingerprint, fp_modified, primary_id in self._driver_rows(
                statement, params
            ):
                ok = fingerprint is not None and _same_time(modified, fp_modified)
                out[norm] = Found(pk, fingerprint if ok else None, primary_id)
            return out
        for part in _chunks(list(norms)):
            if match_id_type == "primary_id":
                key = u.c.primary_id_norm
                query = select(
                    key,
                    u.c.id,
                    u.c.last_modified_date,
                    f.c.fingerprint,
                    f.c.modified,
                    u.c.primary_id,
                )
                query = query.select_from(u.outerjoin(f, f.c.user_pk == u.c.id)).where(
                    u.c.institution == institution, key.in_(part)
                )
            else:
                ui = t.user_identifiers
                key = ui.c.value_norm
                query = (
                    select(
                        key,
                        u.c.id,
                        u.c.last_modified_date,
                        f.c.fingerprint,
                        f.c.modified,
                        u.c.primary_id,
                    )
                    .select_from(
                        ui.join(u, u.c.id == ui.c.user_pk).outerjoin(f, f.c.user_pk == u.c.id)
                    )
                    .where(
                        ui.c.id_type == match_id_type,
                        key.in_(part),
                        u.c.institution == institution,
                    )
                )
            for norm, pk, modified, fingerprint, fp_modified, primary_id in self.conn.execute(
                query
            ):
                ok = fingerprint is not None and _same_time(modified, fp_modified)
                out[norm] = Found(pk, fingerprint if ok else None, primary_id)
        return out

    def load(self, pks: Sequence[int]) -> dict[int, User]:
        out: dict[int, User] = {}
        for part in _chunks(list(pks)):
            rows = self.conn.execute(
                select(t.users.c.id, t.users.c.institution, t.users.c.record).where(
                    t.users.c.id.in_(part)
                )
            )
            for pk, institution, record in rows:
                out[pk] = stored_user(institution, record)
        return out

    def id_holders(self, institution: str, norms: Sequence[str]) -> dict[str, Holder]:
        scope = uniqueness_scope(read_id_scope(self.conn), institution)
        i, u = t.user_ids, t.users
        out: dict[str, Holder] = {}
        if self._pg:
            params = {"norms": sorted(set(norms)), "scope": scope}
            for norm, pk, primary_id, id_type in self._driver_rows(_PG_HOLDERS, params):
                out[norm] = Holder(pk, primary_id, id_type)
            return out
        for part in _chunks(sorted(set(norms))):
            rows = self.conn.execute(
                select(i.c.value_norm, i.c.user_pk, u.c.primary_id, i.c.id_type)
                .select_from(i.join(u, u.c.id == i.c.user_pk))
                .where(i.c.scope == scope, i.c.value_norm.in_(part))
            )
            for norm, pk, primary_id, id_type in rows:
                out[norm] = Holder(pk, primary_id, id_type)
        return out

    # -- writes ------------------------------------------------------------------------

    def _driver(self) -> Any:
        """The psycopg connection under the batch's, for work past SQLAlchemy (COPY, reads of
        many rows). The batch's transaction is opened first, or a batch whose first statement
        went this way would leave SQLAlchemy's commit() a no-op."""
        if not self.conn.in_transaction():
            self.conn.begin()
        return self.conn.connection.driver_connection

    def _driver_execute(self, statement: str, params: dict[str, Any]) -> None:
        """Run a statement on the driver's cursor. Its arrays go in psycopg's binary format
        (``%(name)b``): dumped as text, every element of a batch's arrays went through
        psycopg's escaping, which cost more Python time than the rest of the statement."""
        with self._driver().cursor() as cursor:
            cursor.execute(statement, params)

    def _driver_rows(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a statement run as ``_driver_execute`` runs it."""
        with self._driver().cursor() as cursor:
            cursor.execute(statement, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._pg:
            with self._driver().cursor() as cursor:
                copy_binary(cursor, table, columns, rows)
            return
        marks = ", ".join("?" for _ in columns)
        self.conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - table and column names from the code, values bound
            [tuple(r) for r in rows],
        )

    def _write_side_rows(self, rows: _Batch) -> None:
        for table, columns, table_rows in rows.tables():
            if table != "users":
                self._copy(table, columns, table_rows)

    def _fingerprints(self, rows: Sequence[tuple[int, str, datetime | None]]) -> None:
        """Store the fingerprints of users that may have one already: updated in place (no
        new index entries), inserted where missing."""
        if not rows:
            return
        latest = {pk: (fp, modified) for pk, fp, modified in rows}  # one row a user
        if self._pg:
            self._driver_execute(
                _PG_UPSERT_FINGERPRINTS,
                {
                    "pks": list(latest),
                    "fps": [fp for fp, _ in latest.values()],
                    "modified": [modified for _, modified in latest.values()],
                },
            )
            return
        self.conn.exec_driver_sql(
            _UPSERT_FINGERPRINTS,
            [(pk, fp, modified, pk) for pk, (fp, modified) in latest.items()],
        )

    def prepare(self, users: Sequence[User]) -> _Prepared | None:
        """The rows of these new users, keys reserved (sequence values: nothing written)."""
        if not users:
            return None
        pks = _reserve_pks(self.conn, len(users))
        rows = _Batch(list(users), pks, read_id_scope(self.conn), json_text=True)
        return _Prepared(list(users), pks, rows)

    def create(
        self, users: Sequence[tuple[User, str]], prepared: object | None = None
    ) -> list[int]:
        if not users:
            return []
        if isinstance(prepared, _Prepared) and prepared.fits([u for u, _ in users]):
            pks, rows = prepared.pks, prepared.rows
        else:
            pks = _reserve_pks(self.conn, len(users))
            mode = read_id_scope(self.conn)
            rows = _Batch([u for u, _ in users], pks, mode, json_text=True)
        try:
            self._copy("users", _USER_COLUMNS, rows.users)
            self._write_side_rows(rows)
        except (IntegrityError, psycopg.errors.UniqueViolation) as error:
            # A COPY goes past SQLAlchemy: its errors are psycopg's own.
            detail = str(getattr(error, "orig", None) or error)[:200]
            raise DuplicateId(detail, "all_unique") from None
        self._copy(
            "sis_fingerprints",
            ("user_pk", "fingerprint", "modified"),
            [(pk, fp, utc(u.last_modified_date)) for pk, (u, fp) in zip(pks, users, strict=True)],
        )
        return pks

    def update(self, users: Sequence[tuple[int, User, str]]) -> None:
        if not users:
            return
        pks = [pk for pk, _, _ in users]
        mode = read_id_scope(self.conn)
        rows = _Batch([u for _, u, _ in users], pks, mode, json_text=True)
        columns = [c for c in _USER_COLUMNS if c not in ("id", "password_hash")]
        # The users' rows first: on PostgreSQL that locks them, so the side rows read below
        # are the ones a writer of these users committed last (and no other can change them).
        if self._pg:
            self._update_users_pg(rows)
        else:
            values = []
            for row in rows.users:
                value = dict(zip(_USER_COLUMNS, row, strict=True))
                value["b_id"] = value.pop("id")
                value["record"] = json.loads(value["record"])
                values.append(value)
            statement = (
                update(t.users)
                .where(t.users.c.id == bindparam("b_id"))
                .values({c: bindparam(c) for c in columns})
            )
            self.conn.execute(statement, values)
        try:
            self._rewrite_side_rows(rows, pks)
        except (IntegrityError, psycopg.errors.UniqueViolation) as error:
            orig = getattr(error, "orig", None) or error
            raise DuplicateId(str(orig)[:200], "all_unique") from None
        self._fingerprints([(pk, fp, utc(u.last_modified_date)) for pk, u, fp in users])

    def _rewrite_side_rows(self, rows: _Batch, pks: Sequence[int]) -> None:
        """Bring the side rows of updated users to ``rows`` writing only what differs: a
        changed record usually changes a field or two, so most rows (and the entries of the
        wide term index) stay as they are. Whole rows are compared (a name change changes the
        ``order_key`` of every name term). All deletions of the batch go before any insert,
        so an ID one user gives up can be taken by another user of the same batch."""
        changes = []
        for table, columns, new in rows.tables():
            if table == "users":
                continue
            old = self._side_rows(table, columns, pks)
            kept = set(new)
            gone = [row for row in old if row not in kept]
            had = set(old)
            added = [row for row in new if row not in had]
            changes.append((table, columns, gone, added))
        for table, columns, gone, _ in changes:
            self._delete_rows(table, columns, gone)
        for table, columns, _, added in changes:
            self._copy(table, columns, added)

    def _side_rows(
        self, table: str, columns: Sequence[str], pks: Sequence[int]
    ) -> list[tuple[Any, ...]]:
        """The stored rows of ``pks`` in a side table, as tuples in ``columns`` order."""
        if self._pg:
            # On the driver's cursor: its rows are tuples already (a batch reads ~20 a user).
            return self._driver_rows(_pg_side_rows(table, columns), {"pks": list(pks)})
        side = t.metadata.tables[table]
        out: list[tuple[Any, ...]] = []
        for part in _chunks(pks):
            query = select(*(side.c[c] for c in columns)).where(side.c.user_pk.in_(part))
            out.extend(tuple(row) for row in self.conn.execute(query))
        return out

    def _delete_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Delete these rows of a side table by their key (``_SIDE_KEYS``)."""
        if not rows:
            return
        keys = _SIDE_KEYS[table]
        index = [columns.index(c) for c, _ in keys]
        if self._pg:
            params = {c: [row[i] for row in rows] for (c, _), i in zip(keys, index, strict=True)}
            self._driver_execute(_pg_delete_rows(table, keys), params)
            return
        where = " AND ".join(f"{c} = ?" for c, _ in keys)
        self.conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {where}",  # noqa: S608 - names from _SIDE_KEYS
            [tuple(row[i] for i in index) for row in rows],
        )

    def _update_users_pg(self, rows: _Batch) -> None:
        """One UPDATE for the batch, from the new rows COPYed into a temporary table (emptied
        at every commit) and analysed, so the join goes by the users' primary key."""
        self.conn.exec_driver_sql(_PG_UPDATE_TABLE)
        self.conn.exec_driver_sql(f"TRUNCATE {_PG_UPDATES}")
        index = [_USER_COLUMNS.index(c) for c in _PG_UPDATE_COLUMNS]
        self._copy(_PG_UPDATES, _PG_UPDATE_COLUMNS, [[r[i] for i in index] for r in rows.users])
        self.conn.exec_driver_sql(f"ANALYZE {_PG_UPDATES}")
        updated = self.conn.exec_driver_sql(_PG_UPDATE_USERS).rowcount
        if updated != len(rows.users):
            # A user of the batch was removed since the plan read it: write none of its side
            # rows (nothing would remove them). The runner writes the batch record by record.
            raise UserNotFound(f"{len(rows.users) - updated} of the batch's users")

    def set_fingerprints(self, rows: Sequence[tuple[int, str]]) -> None:
        if not rows:
            return
        pks = [pk for pk, _ in rows]
        modified: dict[int, Any] = {}
        if self._pg:
            for pk, value in self._driver_rows(_PG_MODIFIED, {"pks": pks}):
                modified[pk] = value
        for part in [] if self._pg else _chunks(pks):
            for pk, value in self.conn.execute(
                select(t.users.c.id, t.users.c.last_modified_date).where(t.users.c.id.in_(part))
            ):
                modified[pk] = value
        self._fingerprints([(pk, fp, modified.get(pk)) for pk, fp in rows])

    def add_items(self, run_id: int, rows: Sequence[ItemRow]) -> None:
        self._copy(
            "sis_run_items",
            ("run_id", "seq", "kind", "record_no", "match_id", "primary_id", "detail"),
            [
                (
                    run_id,
                    r.seq,
                    r.kind,
                    r.record_no,
                    (r.match_id or "")[:255] or None,
                    (r.primary_id or "")[:255] or None,
                    (r.detail or "")[:8000] or None,
                )
                for r in rows
            ],
        )

    def update_run(self, report: Report) -> None:
        _update_run(self.conn, report)

    def audit(self, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]) -> None:
        _write_audit(self, institution, actor, at, rows)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.begin_nested():
            yield

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


def _update_run(conn: Connection, report: Report) -> None:
    finished = datetime.fromisoformat(report.finished) if report.finished else None
    conn.execute(
        update(t.sis_runs)
        .where(t.sis_runs.c.id == report.run_id)
        .values(
            status=report.status,
            message=report.message[:4000],
            total=report.total,
            counts=dict(report.counts),
            finished=finished,
        )
    )


def _report(row: Any) -> Report:
    report = Report(
        run_id=row.id,
        profile=row.profile,
        institution=row.institution,
        mode=Mode(row.mode),
        dry_run=bool(row.dry_run),
        source=row.source,
        status=row.status,
        message=row.message or "",
        total=row.total,
        started=row.started.isoformat() if row.started else "",
        finished=row.finished.isoformat() if row.finished else "",
    )
    report.counts.update(row.counts or {})
    return report


class SqlSisStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # PostgreSQL works in its own process: a run may write a batch on one connection
        # while it plans the next on another (``sis.apply.Runner._main_pass``).
        self.overlap_writes = engine.dialect.name == "postgresql"

    @contextmanager
    def batch(self, *, read_only: bool = False) -> Iterator[SqlSisBatch]:
        # Read-only: on SQLite a batch otherwise begins IMMEDIATE, holding the database's one
        # write lock until it ends: a dry run's report items, stored meanwhile by another
        # connection, waited for it until "database is locked".
        options = _READ_ONLY if read_only else {}
        with self.engine.connect().execution_options(**options) as conn:
            try:
                yield SqlSisBatch(conn)
            finally:
                conn.rollback()

    # -- profiles ----------------------------------------------------------------------

    def get_profile(self, institution: str, code: str) -> Profile | None:
        p = t.sis_profiles
        with self.engine.connect() as conn:
            row = conn.execute(
                select(p.c.settings).where(p.c.institution == institution, p.c.code == code)
            ).first()
        return Profile.from_dict(row[0]) if row else None

    def list_profiles(self, institution: str | None) -> list[Profile]:
        p = t.sis_profiles
        query = select(p.c.settings).order_by(p.c.institution, p.c.code)
        if institution is not None:
            query = query.where(p.c.institution == institution)
        with self.engine.connect() as conn:
            return [Profile.from_dict(r[0]) for r in conn.execute(query)]

    def put_profile(self, profile: Profile, *, create: bool) -> None:
        p = t.sis_profiles
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if create:
                conn.execute(
                    insert(p).values(
                        institution=profile.institution,
                        code=profile.code,
                        settings=profile.to_dict(),
                        modified=now,
                    )
                )
            else:
                conn.execute(
                    update(p)
                    .where(p.c.institution == profile.institution, p.c.code == profile.code)
                    .values(settings=profile.to_dict(), modified=now)
                )

    def delete_profile(self, institution: str, code: str) -> bool:
        p = t.sis_profiles
        with self.engine.begin() as conn:
            result = conn.execute(delete(p).where(p.c.institution == institution, p.c.code == code))
        return bool(result.rowcount)

    # -- runs --------------------------------------------------------------------------

    def start_run(self, report: Report) -> int:
        with self.engine.begin() as conn:
            pk = conn.execute(
                insert(t.sis_runs)
                .values(
                    institution=report.institution,
                    profile=report.profile,
                    mode=report.mode.value,
                    dry_run=report.dry_run,
                    source=report.source[:1000],
                    status=report.status,
                    message="",
                    total=0,
                    counts=dict(report.counts),
                    started=datetime.fromisoformat(report.started) if report.started else None,
                )
                .returning(t.sis_runs.c.id)
            ).scalar_one()
        return int(pk)

    def finish_run(self, report: Report) -> None:
        with self.engine.begin() as conn:
            _update_run(conn, report)

    def clear_run_items(self, run_id: int) -> None:
        """Forget the report lists of a run about to be executed again (after a crash)."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.sis_run_items).where(t.sis_run_items.c.run_id == run_id))

    def get_run(self, run_id: int) -> Report | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.sis_runs).where(t.sis_runs.c.id == run_id)).first()
        return _report(row) if row else None

    def list_runs(self, institution: str, profile: str | None, limit: int) -> list[Report]:
        r = t.sis_runs
        query = select(r).where(r.c.institution == institution)
        if profile is not None:
            query = query.where(r.c.profile == profile)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(r.c.id.desc()).limit(limit)).all()
        return [_report(row) for row in rows]

    def run_ids(self, statuses: Collection[str], institution: str | None = None) -> list[int]:
        r = t.sis_runs
        query = select(r.c.id).where(r.c.status.in_(list(statuses)))
        if institution is not None:
            query = query.where(r.c.institution == institution)
        with self.engine.connect() as conn:
            return [int(pk) for pk in conn.execute(query.order_by(r.c.id)).scalars()]

    def run_items(self, run_id: int, kind: str | None, offset: int, limit: int) -> list[ItemRow]:
        i = t.sis_run_items
        query = select(i).where(i.c.run_id == run_id)
        if kind is not None:
            query = query.where(i.c.kind == kind)
        query = query.order_by(i.c.seq).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [
                ItemRow(r.seq, r.kind, r.record_no, r.match_id, r.primary_id, r.detail)
                for r in conn.execute(query)
            ]

    # -- users of a profile ------------------------------------------------------------

    def _profile_users(self, institution: str, code: str) -> Any:
        u = t.users
        return (
            u.c.institution == institution,
            u.c.account_type == "EXTERNAL",
            u.c.external_id == code,
        )

    def profile_user_count(self, institution: str, code: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t.users)
                    .where(*self._profile_users(institution, code))
                ).scalar_one()
            )

    def missing_users(
        self,
        institution: str,
        code: str,
        seen: Container[int],
        active_only: bool,
        expire_on: date | None,
    ) -> Iterator[tuple[int, str]]:
        u = t.users
        query = select(u.c.id, u.c.primary_id, u.c.status, u.c.expiry_date).where(
            *self._profile_users(institution, code)
        )
        last = -1
        while True:
            # One page per connection: nothing is held open while the caller writes.
            with self.engine.connect() as conn:
                page = conn.execute(
                    query.where(u.c.id > last).order_by(u.c.id).limit(MISSING_PAGE)
                ).all()
            for pk, primary_id, status, expiry in page:
                if pk in seen:
                    continue
                if active_only and status != "ACTIVE":
                    continue
                if expire_on is not None and expiry is not None and expiry <= expire_on:
                    continue
                yield pk, primary_id
            if len(page) < MISSING_PAGE:
                return
            last = page[-1][0]

    def deactivate(
        self,
        pks: Iterable[int],
        *,
        expire_on: date | None,
        actor: str,
        now: datetime,
        run_id: int | None = None,
    ) -> None:
        with self.batch() as batch:
            users = batch.load(list(pks))
            changed = []
            history = []
            action = "sis.deactivate" if expire_on is None else "sis.expire"
            for pk, user in users.items():
                if expire_on is None:
                    user.status = "INACTIVE"
                    user.status_date = now.date()
                else:
                    user.expiry_date = expire_on
                user.last_modified_by = actor
                user.last_modified_date = now
                changed.append((pk, user))
                history.append(AuditRow(action, user.primary_id, {"run": run_id}))
            _rewrite(batch, changed)
            if changed:
                _write_audit(batch, changed[0][1].institution, actor, now, history)
            batch.commit()


def _rewrite(batch: SqlSisBatch, users: Sequence[tuple[int, User]]) -> None:
    """Swap records without touching their fingerprints (they no longer match: the dates
    differ, so the next run reads these users' records in full)."""
    if not users:
        return
    values = []
    for pk, user in users:
        row = user_row(user, None, with_password=False)
        row["b_id"] = pk
        values.append(row)
    columns = [c for c in _USER_COLUMNS if c not in ("id", "password_hash")]
    batch.conn.execute(
        update(t.users)
        .where(t.users.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns}),
        values,
    )


def _write_audit(
    batch: SqlSisBatch, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]
) -> None:
    """The users' history rows of a batch: one COPY (PostgreSQL) or one multi-row insert."""
    if not rows:
        return
    if batch._pg:
        texts: dict[int, str] = {}  # rows sharing one detail dict share its text
        when, who = utc(at), actor[:255]
        batch._copy(
            "audit_log",
            ("at", "institution", "actor", "action", "target", "detail"),
            [
                (
                    when,
                    institution,
                    who,
                    r.action,
                    r.target[:255],
                    texts.get(id(r.detail)) or texts.setdefault(id(r.detail), json.dumps(r.detail)),
                )
                for r in rows
            ],
        )
        return
    batch.conn.execute(
        insert(t.audit_log),
        [
            {
                "at": at,
                "institution": institution,
                "actor": actor[:255],
                "action": r.action,
                "target": r.target[:255],
                "detail": r.detail,
            }
            for r in rows
        ],
    )
