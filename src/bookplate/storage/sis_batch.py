"""One transaction of an SIS run (``SqlSisBatch``): its reads come from ``sis_reads``
(match IDs with their fingerprints, stored records, ID holders); here are its set-based
writes (one multi-row statement per table and batch, COPY on PostgreSQL for the new rows,
never per-row ORM work)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import OutboxKind
from bookplate.sis.model import Report
from bookplate.sis.ports import AuditRow, ItemRow
from bookplate.storage import outbox
from bookplate.storage import tables as t
from bookplate.storage.batch_rows import USER_COLUMNS, BatchRows, reserve_pks
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import user_row, utc
from bookplate.storage.sis_reads import SisReads
from bookplate.storage.sis_sql import (
    PG_MODIFIED,
    PG_UPDATE_COLUMNS,
    PG_UPDATE_TABLE,
    PG_UPDATE_USERS,
    PG_UPDATES,
    PG_UPSERT_FINGERPRINTS,
    SIDE_KEYS,
    UPSERT_FINGERPRINTS,
    chunks,
    pg_delete_rows,
    pg_side_rows,
)
from bookplate.storage.term_vector import on_vector
from bookplate.storage.users_repo import lock_institution
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import User


class _Prepared:
    """New users' rows built ahead of their write (``SqlSisBatch.prepare``)."""

    def __init__(self, users: list[User], pks: list[int], rows: BatchRows) -> None:
        self.users = users
        self.pks = pks
        self.rows = rows

    def fits(self, users: Sequence[User]) -> bool:
        """Were these rows built from exactly these user objects, in this order?"""
        return len(users) == len(self.users) and all(
            a is b for a, b in zip(users, self.users, strict=True)
        )


class SqlSisBatch(SisReads):
    """One transaction of a run (``sis.ports.SisBatch``)."""

    def lock_institution(self, institution: str) -> None:
        lock_institution(self.conn, institution)

    # -- writes ------------------------------------------------------------------------

    def _write_side_rows(self, rows: BatchRows) -> None:
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
                PG_UPSERT_FINGERPRINTS,
                {
                    "pks": list(latest),
                    "fps": [fp for fp, _ in latest.values()],
                    "modified": [modified for _, modified in latest.values()],
                },
            )
            return
        self.conn.exec_driver_sql(
            UPSERT_FINGERPRINTS,
            [(pk, fp, modified, pk) for pk, (fp, modified) in latest.items()],
        )

    def prepare(self, users: Sequence[User]) -> _Prepared | None:
        """The rows of these new users, keys reserved (sequence values: nothing written)."""
        if not users:
            return None
        pks = reserve_pks(self.conn, len(users))
        rows = BatchRows(list(users), pks, read_id_scope(self.conn), True, self._vector)
        return _Prepared(list(users), pks, rows)

    def create(
        self, users: Sequence[tuple[User, str]], prepared: object | None = None
    ) -> list[int]:
        if not users:
            return []
        if isinstance(prepared, _Prepared) and prepared.fits([u for u, _ in users]):
            pks, rows = prepared.pks, prepared.rows
        else:
            pks = reserve_pks(self.conn, len(users))
            mode = read_id_scope(self.conn)
            rows = BatchRows([u for u, _ in users], pks, mode, True, self._vector)
        try:
            self._copy("users", USER_COLUMNS, rows.users)
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
        rows = BatchRows([u for _, u, _ in users], pks, mode, True, self._vector)
        # Linked accounts of these users owe a refresh (before their rows change).
        outbox.enqueue(self.conn, pks, OutboxKind.CHANGED)
        # The users' rows first: on PostgreSQL that locks them, so the side rows read below
        # are the ones a writer of these users committed last (and no other can change them).
        if self._pg:
            self._update_users_pg(rows)
        else:
            self._update_users_sqlite(rows)
        try:
            self._rewrite_side_rows(rows, pks)
        except (IntegrityError, psycopg.errors.UniqueViolation) as error:
            orig = getattr(error, "orig", None) or error
            raise DuplicateId(str(orig)[:200], "all_unique") from None
        self._fingerprints([(pk, fp, utc(u.last_modified_date)) for pk, u, fp in users])

    def _rewrite_side_rows(self, rows: BatchRows, pks: Sequence[int]) -> None:
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
            return self._driver_rows(pg_side_rows(table, columns), {"pks": list(pks)})
        side = t.metadata.tables[table]
        out: list[tuple[Any, ...]] = []
        for part in chunks(pks):
            query = select(*(side.c[c] for c in columns)).where(side.c.user_pk.in_(part))
            out.extend(tuple(row) for row in self.conn.execute(query))
        return out

    def _delete_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Delete these rows of a side table by their key (``SIDE_KEYS``)."""
        if not rows:
            return
        keys = SIDE_KEYS[table]
        index = [columns.index(c) for c, _ in keys]
        if self._pg:
            params = {c: [row[i] for row in rows] for (c, _), i in zip(keys, index, strict=True)}
            self._driver_execute(pg_delete_rows(table, keys), params)
            return
        where = " AND ".join(f"{c} = ?" for c, _ in keys)
        self.conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {where}",  # noqa: S608 - names from SIDE_KEYS
            [tuple(row[i] for i in index) for row in rows],
        )

    def _update_users_sqlite(self, rows: BatchRows) -> int:
        """One executemany UPDATE of the batch's user rows (the password is never touched);
        how many rows it changed."""
        columns = [c for c in USER_COLUMNS if c not in ("id", "password_hash")]
        values = []
        for row in rows.users:
            value = dict(zip(USER_COLUMNS, row, strict=True))
            value["b_id"] = value.pop("id")
            value["record"] = json.loads(value["record"])
            values.append(value)
        statement = (
            update(t.users)
            .where(t.users.c.id == bindparam("b_id"))
            .values({c: bindparam(c) for c in columns})
        )
        return int(self.conn.execute(statement, values).rowcount)

    def _update_users_pg(self, rows: BatchRows) -> None:
        """One UPDATE for the batch, from the new rows COPYed into a temporary table (emptied
        at every commit) and analysed, so the join goes by the users' primary key."""
        self.conn.exec_driver_sql(PG_UPDATE_TABLE)
        self.conn.exec_driver_sql(f"TRUNCATE {PG_UPDATES}")
        index = [USER_COLUMNS.index(c) for c in PG_UPDATE_COLUMNS]
        self._copy(PG_UPDATES, PG_UPDATE_COLUMNS, [[r[i] for i in index] for r in rows.users])
        self.conn.exec_driver_sql(f"ANALYZE {PG_UPDATES}")
        updated = self.conn.exec_driver_sql(PG_UPDATE_USERS).rowcount
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
            for pk, value in self._driver_rows(PG_MODIFIED, {"pks": pks}):
                modified[pk] = value
        for part in [] if self._pg else chunks(pks):
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
        update_run(self.conn, report)

    def audit(self, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]) -> None:
        write_audit(self, institution, actor, at, rows)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.begin_nested():
            yield

    def commit(self) -> None:
        self.conn.commit()
        outbox.after_commit(self.conn)

    def rollback(self) -> None:
        self.conn.rollback()
        outbox.discard(self.conn)


def update_run(conn: Connection, report: Report) -> None:
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


def rewrite(batch: SqlSisBatch, users: Sequence[tuple[int, User]]) -> None:
    """Swap records without touching their fingerprints (they no longer match: the dates
    differ, so the next run reads these users' records in full)."""
    if not users:
        return
    outbox.enqueue(batch.conn, [pk for pk, _ in users], OutboxKind.CHANGED)
    values = []
    for pk, user in users:
        row = user_row(user, None, with_password=False, vector=on_vector(batch.conn.dialect))
        row["b_id"] = pk
        values.append(row)
    columns = [c for c in USER_COLUMNS if c not in ("id", "password_hash")]
    batch.conn.execute(
        update(t.users)
        .where(t.users.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns}),
        values,
    )


def write_audit(
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
