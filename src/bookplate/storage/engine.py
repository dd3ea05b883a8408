"""Creating the SQLAlchemy engine for SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

__all__ = ["Engine", "make_engine", "normalise_url"]

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option read at BEGIN on SQLite: "IMMEDIATE" (default: take the write lock at once,
# so concurrent writers queue on busy_timeout instead of failing on a stale snapshot) or
# "DEFERRED" (read-only work).
SQLITE_BEGIN_OPTION = "bookplate_sqlite_begin"


def normalise_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` / ``postgres://`` and use the psycopg 3 driver for them."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; ``kwargs`` go to ``create_engine`` (they win over defaults)."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, kwargs)
    if backend == "postgresql":
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
        if "poolclass" not in kwargs:
            options.update(pool_size=10, max_overflow=20)
        options.update(kwargs)
        return create_engine(parsed, **options)
    return create_engine(parsed, **kwargs)


def _sqlite_engine(url: URL, kwargs: dict[str, Any]) -> Engine:
    options: dict[str, Any] = {}
    memory = url.database in (None, "", ":memory:")
    if memory:
        options["poolclass"] = StaticPool
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    connect_args.update(kwargs.pop("connect_args", {}))
    options["connect_args"] = connect_args
    options.update(kwargs)
    engine = create_engine(url, **options)

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
