"""The one way storage opens a transaction on an engine.

Every store goes through ``connection`` (a connection in its transaction, committed only by
``commit``) or ``transaction`` (one short transaction, committed when the block ends without
an error): the unit of work (``uow.py``), the stores of one-call operations (sessions,
counters, sign-in profiles), the bulk loader, the re-index and the migrations.
``tests/unit/test_one_opener.py`` fails when a module opens one another way.

What the modes mean (the SQLite ``begin`` listener is in ``engine.py``):

- a write (the default): SQLite begins IMMEDIATE at the first statement (the write lock is
  taken at once, so concurrent writers queue on the busy timeout instead of failing on a
  stale snapshot); PostgreSQL runs READ COMMITTED.
- ``read_only``: any statement that is not a read raises ``ReadOnlyViolation`` before it is
  sent; SQLite begins DEFERRED (no write lock, one snapshot); PostgreSQL runs in AUTOCOMMIT
  mode (no BEGIN / ROLLBACK round trips, each statement sees what was committed when it
  started: the visibility of the READ COMMITTED transaction it replaces).
- ``single_write`` (PostgreSQL only; an ordinary write elsewhere): AUTOCOMMIT, and one write,
  marked ``ATOMIC_WRITE_OPTION`` by its repository, may be sent (``engine.SingleWrite``).

Whatever is not committed is rolled back when the block ends, and the refresh outbox of the
connection is told (``outbox``). A driver error saying the database cannot store a write
(disk full, read-only database) becomes ``StorageUnavailable``, which the faces word as 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from bookplate.errors import StorageUnavailable
from bookplate.storage import outbox
from bookplate.storage.engine import (
    READ_ONLY_OPTION,
    SINGLE_WRITE_OPTION,
    SQLITE_BEGIN_OPTION,
    SingleWrite,
    is_write_failure,
)

_PG_READ = {"isolation_level": "AUTOCOMMIT", READ_ONLY_OPTION: True}
_SQLITE_READ = {SQLITE_BEGIN_OPTION: "DEFERRED", READ_ONLY_OPTION: True}


def _options(dialect: str, read_only: bool, single_write: bool) -> dict[str, Any]:
    if read_only and single_write:
        raise ValueError("a transaction is read-only or single-write, not both")
    if read_only:
        return _PG_READ if dialect == "postgresql" else _SQLITE_READ
    if single_write and dialect == "postgresql":
        return {"isolation_level": "AUTOCOMMIT", SINGLE_WRITE_OPTION: SingleWrite()}
    return {}


@contextmanager
def connection(
    engine: Engine, *, read_only: bool = False, single_write: bool = False
) -> Iterator[Connection]:
    """A connection whose transaction begins at its first statement; only ``commit(conn)``
    keeps what it wrote (after it, the next statement begins a new transaction)."""
    conn = engine.connect()
    try:
        options = _options(conn.dialect.name, read_only, single_write)
        if options:
            conn = conn.execution_options(**options)
        yield conn
    except Exception as exc:
        if is_write_failure(exc):
            raise StorageUnavailable() from exc
        raise
    finally:
        try:
            conn.rollback()
            outbox.discard(conn)
        finally:
            conn.close()


def commit(conn: Connection) -> None:
    """Commit the connection's transaction and tell the refresh outbox."""
    conn.commit()
    outbox.after_commit(conn)


def rollback(conn: Connection) -> None:
    """Drop what the connection's transaction wrote, and the outbox rows it owed."""
    conn.rollback()
    outbox.discard(conn)


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Connection]:
    """One short transaction: committed when the block ends without an error (a read-only
    one is never committed; there is nothing to keep)."""
    with connection(engine, read_only=read_only) as conn:
        yield conn
        if not read_only:
            commit(conn)
