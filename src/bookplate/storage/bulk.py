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
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from bookplate.storage import tables as t
from bookplate.storage.batch_rows import BatchRows, reserve_pks
from bookplate.storage.copy_types import copy_binary
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.term_vector import on_vector
from bookplate.storage.transaction import commit, connection, transaction
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User

_KEY_DETAIL = re.compile(r"\)=\((.*)\) already exists")

def _batches(items: Iterable[User], size: int) -> Iterator[list[User]]:
    chunk: list[User] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _duplicate(error: BaseException) -> DuplicateId:
    detail = getattr(getattr(error, "diag", None), "message_detail", None) or str(error)
    match = _KEY_DETAIL.search(detail)
    value = match.group(1).split(", ")[-1] if match else "?"
    return DuplicateId(value, "all_unique")


def _copy_batch(engine: Engine, batch: BatchRows) -> int:
    """Write one batch with COPY in its own transaction."""
    try:
        with transaction(engine) as conn:
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
    with connection(engine) as conn:
        mode = read_id_scope(conn)
        commit(conn)
        total = 0
        pending: deque[Future[int]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
            try:
                for chunk in _batches(users, batch):
                    pks = reserve_pks(conn, len(chunk))
                    commit(conn)
                    rows = BatchRows(chunk, pks, mode, json_text=True, vector=True)
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
            with transaction(engine) as conn:
                pks = reserve_pks(conn, len(chunk))
                vector = on_vector(conn.dialect)
                rows = BatchRows(chunk, pks, read_id_scope(conn), False, vector)
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
