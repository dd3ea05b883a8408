"""Creating the SQLAlchemy engine for SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import SelectBase

__all__ = [
    "ATOMIC_WRITE_OPTION",
    "READ_ONLY_OPTION",
    "SINGLE_WRITE_OPTION",
    "Engine",
    "ReadOnlyViolation",
    "SingleWrite",
    "SingleWriteViolation",
    "make_engine",
    "normalise_url",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option read at BEGIN on SQLite: "IMMEDIATE" (default: take the write lock at once,
# so concurrent writers queue on busy_timeout instead of failing on a stale snapshot) or
# "DEFERRED" (read-only work).
SQLITE_BEGIN_OPTION = "bookplate_sqlite_begin"


# Execution option set by read-only units of work: any statement that is not a read raises
# ReadOnlyViolation before it reaches the database (on PostgreSQL those units run in
# AUTOCOMMIT mode, where a write would otherwise be committed at once).
READ_ONLY_OPTION = "bookplate_read_only"
# (SAVEPOINT is left out: it only serves writes, and AUTOCOMMIT has no transaction for it.)
_READ_STATEMENTS = frozenset({"SELECT", "SHOW", "EXPLAIN", "VALUES", "BEGIN", "COMMIT", "ROLLBACK"})


# Execution option of a single-write unit of work on PostgreSQL (AUTOCOMMIT: no BEGIN/COMMIT
# round trips), whose value is that unit's ``SingleWrite``: the unit may run one write, and
# only a statement marked ``ATOMIC_WRITE_OPTION`` (one statement that does the whole change,
# so that it cannot be half-done); any other write raises SingleWriteViolation before it is
# sent.
SINGLE_WRITE_OPTION = "bookplate_single_write"
ATOMIC_WRITE_OPTION = "bookplate_atomic_write"


class ReadOnlyViolation(RuntimeError):
    """A write attempted through a read-only unit of work."""


class SingleWriteViolation(RuntimeError):
    """A second write, or a write not marked atomic, in a single-write unit of work."""


class SingleWrite:
    """The state of one single-write unit: whether its write has been sent."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


def _is_read(statement: str, context: Any) -> bool:
    """SELECT (and the like) or transaction control; a CTE only from a compiled SELECT."""
    words = statement.lstrip(" \n\t(").split(None, 1)
    head = words[0].upper() if words else ""
    if head in _READ_STATEMENTS:
        return True
    compiled = getattr(context, "compiled", None)
    return head == "WITH" and isinstance(getattr(compiled, "statement", None), SelectBase)


def _guard_read_only(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(
        conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        options = conn._execution_options
        if options.get(READ_ONLY_OPTION) and not _is_read(statement, context):
            raise ReadOnlyViolation(f"write in a read-only unit of work: {statement[:60]!r}")
        single = options.get(SINGLE_WRITE_OPTION)
        if single is not None and not _is_read(statement, context):
            if single.done or not context.execution_options.get(ATOMIC_WRITE_OPTION):
                raise SingleWriteViolation(
                    f"write not allowed in a single-write unit of work: {statement[:60]!r}"
                )
            single.done = True


def normalise_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` / ``postgres://`` and use the psycopg 3 driver for them."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, pool_pre_ping: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``; ``kwargs`` go to ``create_engine`` (they win over defaults).

    On PostgreSQL ``pool_pre_ping`` is off by default: it costs a round trip on every pool
    checkout, a noticeable share of a GET (docs/benchmarks.md). Connections are recycled
    after 30 minutes, and a connection found dead by a statement invalidates the whole pool,
    so only the request that meets a dropped connection fails (a restart of PostgreSQL
    costs one error per worker); pass ``pool_pre_ping=True`` where a load balancer or
    firewall drops idle connections.
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if pool_pre_ping:
            kwargs["pool_pre_ping"] = True
        return _sqlite_engine(parsed, kwargs)
    if backend == "postgresql":
        options: dict[str, Any] = {"pool_pre_ping": pool_pre_ping, "pool_recycle": 1800}
        if "poolclass" not in kwargs:
            options.update(pool_size=10, max_overflow=20)
        options.update(kwargs)
        engine = create_engine(parsed, **options)
    else:
        engine = create_engine(parsed, pool_pre_ping=pool_pre_ping, **kwargs)
    _guard_read_only(engine)
    return engine


def _sqlite_engine(url: URL, kwargs: dict[str, Any]) -> Engine:
    options: dict[str, Any] = {}
    memory = url.database in (None, "", ":memory:")
    if memory:
        options["poolclass"] = StaticPool
    else:
        # The default file lives in a data folder that may not exist yet (config.py).
        Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    connect_args.update(kwargs.pop("connect_args", {}))
    options["connect_args"] = connect_args
    options.update(kwargs)
    engine = create_engine(url, **options)
    _guard_read_only(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own handling
        # would defer it and break SAVEPOINT / transactional DDL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

    return engine


# SQLite's messages (sqlite3 reports no error code before Python 3.11's sqlite_errorcode) and
# PostgreSQL's SQLSTATEs for "the write cannot be stored": disk full (53100), read-only
# transaction (25006), I/O error (58030).
_SQLITE_WRITE_FAILURES = (
    "database or disk is full",
    "attempt to write a readonly database",
    "disk i/o error",
    "unable to open database file",
)
_PG_WRITE_FAILURES = frozenset({"53100", "25006", "58030"})


def is_write_failure(exc: BaseException) -> bool:
    """True for a driver error that says the database cannot store a write (see above)."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _PG_WRITE_FAILURES
    text = str(original).lower()
    return any(marker in text for marker in _SQLITE_WRITE_FAILURES)
