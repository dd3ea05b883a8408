"""The code tables, the institutions' reads and the history, on the ``sqlite3`` driver
itself: the store of ``bookplate codes …`` and ``bookplate institutions list`` on an embedded
SQLite file at the schema's head.

Importing SQLAlchemy takes more than half of such a command's start-up (docs/benchmarks.md,
"CLI"), and a command that changes one code needs a dozen plain statements. These are the
statements ``SqlCodeTables``, ``SqlInstitutionRepository``'s reads and
``SqlRolesRepository.record`` send, in the same transaction modes as
``storage/transaction.py`` on SQLite (``BEGIN IMMEDIATE`` for a write, ``DEFERRED`` for a
read, the engine's pragmas), and the values they store are the same: booleans as 0/1, the
history's time as SQLAlchemy writes a SQLite DATETIME, its detail as its JSON type does.
``tests/integration/storage/test_sqlite_codes.py`` runs every operation through both stores
and compares the rows. Anything else (PostgreSQL, a new or older schema, an in-memory or
unusual URL) takes the SQLAlchemy stores (``bootstrap.open_code_tables``)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bookplate.errors import StorageUnavailable
from bookplate.network.model import IdScope, Institution
from bookplate.storage.schema_revision import head_from_files
from bookplate.users.ports import CodeRow

#: ``network_repo.ID_SCOPE_KEY`` (that module imports SQLAlchemy).
ID_SCOPE_KEY = "id_scope"
# The engine's settings (storage/engine.py): busy timeout, WAL, synchronous, foreign keys.
BUSY_TIMEOUT_MS = 30_000
_PLAIN_FILE = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?%#]+)$")
# storage/engine.py's list of "the write cannot be stored" messages.
_WRITE_FAILURES = ("database or disk is full", "attempt to write a readonly database",
                   "disk i/o error", "unable to open database file")


def database_file(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL whose schema is at the migrations' head;
    None for anything else (then SQLAlchemy's stores serve, and migrate if need be)."""
    match = _PLAIN_FILE.match(url)
    if match is None or not Path(match["path"]).is_file():
        return None
    path = match["path"]
    head = head_from_files()
    try:
        with _connect(path) as conn:
            stored = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.Error:  # no such table, not a database, locked past the timeout
        return None
    return path if head is not None and stored == {head} else None


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def _stored_time(at: datetime) -> str:
    """A DATETIME as SQLAlchemy's SQLite type stores it (no time zone, microseconds)."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteCodesUnit:
    """A unit of work of ``codes``, ``institutions`` (``get``) and ``roles`` (``record``)
    on one connection; what is not committed is rolled back on exit."""

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        self.path, self.read_only = path, read_only
        self._conn: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SqliteCodesUnit used outside its 'with' block")
        return self._conn

    def __enter__(self) -> Self:
        try:
            self._conn = _connect(self.path)
            self._begin()
        except sqlite3.Error as exc:
            self._close()
            raise _mapped(exc) from exc
        self.codes = SqliteCodeTables(self._conn)
        self.institutions = SqliteInstitutions(self._conn)
        self.roles = SqliteHistory(self._conn)
        return self

    def _begin(self) -> None:
        self.connection.execute("BEGIN DEFERRED" if self.read_only else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
        if isinstance(exc, sqlite3.Error):
            mapped = _mapped(exc)
            if mapped is not exc:
                raise mapped from exc

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            finally:
                conn.close()

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("SqliteCodesUnit.commit() on a read-only unit of work")
        try:
            self.connection.execute("COMMIT")
            self._begin()  # as SqlUnitOfWork: the unit goes on in a new transaction
        except sqlite3.Error as exc:
            raise _mapped(exc) from exc

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")
        self._begin()


def _mapped(exc: sqlite3.Error) -> Exception:
    """StorageUnavailable for a write the database cannot store, as the engine maps it."""
    text = str(exc).lower()
    return StorageUnavailable() if any(m in text for m in _WRITE_FAILURES) else exc


class SqliteInstitutions:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, code: str) -> Institution | None:
        row = self._conn.execute(
            "SELECT code, name FROM institutions WHERE code = ?", (code,)).fetchone()
        return Institution(row[0], row[1]) if row else None

    def list(self) -> list[Institution]:
        return [Institution(code, name) for code, name in self._conn.execute(
            "SELECT code, name FROM institutions ORDER BY code")]

    def id_scope(self) -> IdScope:
        """``network_repo.read_id_scope``: network-wide unless the setting says otherwise."""
        row = self._conn.execute(
            "SELECT value FROM network_settings WHERE key = ?", (ID_SCOPE_KEY,)).fetchone()
        return IdScope(row[0]) if row and row[0] else IdScope.NETWORK


class SqliteHistory:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, institution: str, actor: str, action: str, target: str,
               detail: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO audit_log (at, institution, actor, action, target, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_stored_time(datetime.now(UTC)), institution, actor[:255], action[:64],
             target[:255], json.dumps(detail)),
        )


class SqliteCodeTables:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, institution: str, table: str) -> list[CodeRow]:
        return [
            CodeRow(code, description, bool(enabled), bool(default))
            for code, description, enabled, default in self._conn.execute(
                "SELECT code, description, enabled, is_default FROM code_rows "
                "WHERE institution = ? AND table_name = ? ORDER BY position, code",
                (institution, table))
        ]

    def table_names(self, institution: str) -> list[str]:
        return [r[0] for r in self._conn.execute(
            "SELECT DISTINCT table_name FROM code_rows WHERE institution = ? "
            "ORDER BY table_name", (institution,))]

    def allowed_groups(self, institution: str) -> Mapping[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for group, record_type in self._conn.execute(
            "SELECT user_group, record_type FROM group_record_types WHERE institution = ?",
            (institution,),
        ):
            out.setdefault(record_type, set()).add(group)
        return {k: frozenset(v) for k, v in out.items()}

    def put_row(self, institution: str, table: str, row: CodeRow) -> None:
        """Upsert on (institution, table, code), keeping a code's position; a new code goes
        after the table's last."""
        top = self._conn.execute(
            "SELECT max(position) FROM code_rows WHERE institution = ? AND table_name = ?",
            (institution, table)).fetchone()[0]
        self._conn.execute(
            "INSERT INTO code_rows (institution, table_name, code, description, enabled, "
            "is_default, position) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (institution, table_name, code) DO UPDATE SET "
            "description = excluded.description, enabled = excluded.enabled, "
            "is_default = excluded.is_default",
            (institution, table, row.code, row.description, int(row.enabled),
             int(row.default), 0 if top is None else int(top) + 1),
        )

    def remove_row(self, institution: str, table: str, code: str) -> bool:
        done = self._conn.execute(
            "DELETE FROM code_rows WHERE institution = ? AND table_name = ? AND code = ?",
            (institution, table, code))
        return bool(done.rowcount)

    def set_group_record_types(self, institution: str, user_group: str,
                               record_types: frozenset[str]) -> None:
        self._conn.execute(
            "DELETE FROM group_record_types WHERE institution = ? AND user_group = ?",
            (institution, user_group))
        self._conn.executemany(
            "INSERT INTO group_record_types (institution, user_group, record_type) "
            "VALUES (?, ?, ?)",
            [(institution, user_group, rt) for rt in sorted(record_types)])
