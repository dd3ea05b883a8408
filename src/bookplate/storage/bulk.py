"""Set-based loading of many users (benchmark seeding, first imports).

Rows are built for a whole batch at once (user primary keys reserved in one statement) and
written with one COPY per table on PostgreSQL (psycopg 3) or one multi-row ``executemany`` per
table elsewhere; each batch is one transaction. On PostgreSQL several batches are written at
once on separate connections while the next batch is being built, and the batch transactions
use ``synchronous_commit = off`` (a crash may lose the last batches, never half of one).
No audit rows are written and no passwords are set.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import IdScope, uniqueness_scope
from bookplate.storage import tables as t
from bookplate.storage.copy_types import copy_binary
from bookplate.storage.documents import document_text
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.rows import id_entries, identifier_pairs, row_order_key, term_rows, user_row
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User

_USER_COLUMNS = (
    "id",
    "institution",
    "primary_id",
    "primary_id_norm",
    "record",
    "password_hash",
    "last_name_sort",
    "first_name_sort",
    "user_group",
    "record_type",
    "account_type",
    "external_id",
    "status",
    "linking_id",
    "source_institution_code",
    "source_link_id",
    "created_date",
    "last_modified_date",
    "expiry_date",
    "purge_date",
)
_ID_COLUMNS = ("scope", "value_norm", "user_pk", "id_type")
_IDENTIFIER_COLUMNS = ("user_pk", "id_type", "value_norm")
_TERM_COLUMNS = ("user_pk", "institution", "field", "term", "order_key")

_KEY_DETAIL = re.compile(r"\)=\((.*)\) already exists")

Row = tuple[Any, ...]


def _batches(items: Iterable[User], size: int) -> Iterator[list[User]]:
    chunk: list[User] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Batch:
    """The rows of one batch as tuples in the column order of the ``_*_COLUMNS`` above."""

    def __init__(self, users: list[User], pks: list[int], mode: IdScope, json_text: bool) -> None:
        self.users: list[Row] = []
        self.ids: list[Row] = []
        self.identifiers: list[Row] = []
        self.terms: list[Row] = []
        for pk, user in zip(pks, users, strict=True):
            row = user_row(user, None)
            row["id"] = pk
            if json_text:
                row["record"] = document_text(row["record"])
            self.users.append(tuple(row[c] for c in _USER_COLUMNS))
            scope = uniqueness_scope(
                mode, user.institution, linked=user.source_institution_code is not None
            )
            self.ids += [(scope, norm, pk, id_type) for norm, _raw, id_type in id_entries(user)]
            self.identifiers += [(pk, k, v) for k, v in identifier_pairs(user)]
            inst = user.institution
            key = row_order_key(row)
            self.terms += [(pk, inst, f, v, k) for f, v, k in term_rows(user, key)]

    def tables(self) -> list[tuple[str, tuple[str, ...], list[Row]]]:
        return [
            ("users", _USER_COLUMNS, self.users),
            ("user_ids", _ID_COLUMNS, self.ids),
            ("user_identifiers", _IDENTIFIER_COLUMNS, self.identifiers),
            ("user_terms", _TERM_COLUMNS, self.terms),
        ]


def _reserve_pks(conn: Connection, count: int) -> list[int]:
    if conn.dialect.name == "postgresql":
        # One array, not a row per key: a batch's thousands of rows cost more than the rest.
        found = conn.execute(
            text(
                "SELECT array_agg(v ORDER BY v) FROM (SELECT nextval("
                "pg_get_serial_sequence('users', 'id')) AS v FROM generate_series(1, :n)) AS s"
            ),
            {"n": count},
        ).scalar_one()
        return [int(v) for v in found or ()]
    # SQLite: the batch's transaction holds the write lock (BEGIN IMMEDIATE).
    top = conn.execute(select(func.coalesce(func.max(t.users.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))


def _duplicate(error: BaseException) -> DuplicateId:
    detail = getattr(getattr(error, "diag", None), "message_detail", None) or str(error)
    match = _KEY_DETAIL.search(detail)
    value = match.group(1).split(", ")[-1] if match else "?"
    return DuplicateId(value, "all_unique")


def _copy_batch(engine: Engine, batch: _Batch) -> int:
    """Write one batch with COPY in its own transaction."""
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cursor:
                for table, columns, rows in batch.tables():
                    if rows:
                        copy_binary(cursor, table, columns, rows)
    except psycopg.errors.UniqueViolation as error:
        raise _duplicate(error) from None
    except IntegrityError as error:
        raise _duplicate(error.orig or error) from None
    return len(batch.users)


def _bulk_postgresql(engine: Engine, users: Iterable[User], batch: int, workers: int) -> int:
    with engine.connect() as conn:
        mode = read_id_scope(conn)
        conn.commit()
        total = 0
        pending: deque[Future[int]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
            try:
                for chunk in _batches(users, batch):
                    pks = _reserve_pks(conn, len(chunk))
                    conn.commit()
                    rows = _Batch(chunk, pks, mode, json_text=True)
                    while len(pending) >= workers:
                        total += pending.popleft().result()
                    pending.append(pool.submit(_copy_batch, engine, rows))
                while pending:
                    total += pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
        return total


def _bulk_generic(engine: Engine, users: Iterable[User], batch: int) -> int:
    total = 0
    for chunk in _batches(users, batch):
        try:
            with engine.begin() as conn:
                rows = _Batch(chunk, _reserve_pks(conn, len(chunk)), read_id_scope(conn), False)
                for table, columns, table_rows in rows.tables():
                    if table_rows:
                        conn.execute(
                            insert(t.metadata.tables[table]),
                            [dict(zip(columns, r, strict=True)) for r in table_rows],
                        )
        except IntegrityError as error:
            raise _duplicate(error.orig or error) from None
        total += len(chunk)
    return total


def bulk_insert_users(
    engine: Engine, users: Iterable[User], batch: int = 5000, workers: int = 2
) -> int:
    """Insert new ``users`` (``institution`` set) in batches; returns how many were written.

    ``users`` is consumed lazily, so it may be a generator over millions of records. Raises
    DuplicateId when an ID is taken: the failing batch is rolled back, batches written before
    it stay. ``workers`` (PostgreSQL only) is how many batches are written at once."""
    batch = max(batch, 1)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _bulk_postgresql(engine, users, batch, max(workers, 1))
    return _bulk_generic(engine, users, batch)
