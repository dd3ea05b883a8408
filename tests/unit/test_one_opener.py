"""One persistence style (issue 15, item 5): storage opens every transaction through
``storage/transaction.py``. A call of ``.connect(`` / ``.begin(`` / ``.raw_connection(`` on
anything anywhere else in ``src/`` fails this test unless it is listed below with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "bookplate"
OPENER = "storage/transaction.py"
_OPENING = frozenset({"connect", "begin", "raw_connection"})

# (module, method) -> why it may open its own. Keep it short; each entry must still occur.
ALLOWED: dict[tuple[str, str], str] = {
    ("storage/sis_repo.py", "connect"): (
        "SqlSisStore.batch, the SIS store's one opener (same modes and clean-up as "
        "storage.transaction.connection); the SIS storage is being rewritten on another "
        "branch, which moves it onto storage.transaction at merge"
    ),
    ("storage/sis_sql.py", "begin"): (
        "begins the batch's transaction on the connection its batch opened, before a "
        "driver-level statement (COPY) that SQLAlchemy would not see"
    ),
    ("storage/sis_queue.py", "connect"): (
        "psycopg's own connection for procrastinate's schema and jobs, not a store's table"
    ),
    ("storage/sqlite_codes.py", "connect"): (
        "the sqlite3 connection of bookplate codes on an embedded file, without SQLAlchemy "
        "(start-up under 0.5 s); same modes and pragmas as storage.transaction on SQLite, "
        "rows compared with the SQLAlchemy stores' by tests/integration/storage/"
        "test_sqlite_codes.py"
    ),
}


def openings(source: str) -> list[tuple[int, str]]:
    """(line, method) of every call ``<anything>.connect(`` / ``.begin(`` / ...."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _OPENING
        ):
            found.append((node.lineno, node.func.attr))
    return found


def _modules() -> list[tuple[str, str]]:
    return [
        (path.relative_to(SRC).as_posix(), path.read_text())
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.relative_to(SRC).parts
    ]


def test_stores_open_transactions_only_through_the_opener() -> None:
    others = [
        f"{name}:{line}: .{method}(" for name, text in _modules() if name != OPENER
        for line, method in openings(text) if (name, method) not in ALLOWED
    ]
    assert others == [], "open it with storage.transaction.connection / transaction"


def test_the_allowed_exceptions_still_exist() -> None:
    seen = {(name, method) for name, text in _modules() for _, method in openings(text)}
    assert set(ALLOWED) <= seen, "remove the allow-list entries that no longer occur"


def test_the_opener_itself_is_found() -> None:
    # The check sees the opener's own engine.connect(), so it would see a copy elsewhere.
    text = (SRC / OPENER).read_text()
    assert any(method == "connect" for _, method in openings(text))


def test_a_store_that_opens_its_own_transaction_is_caught() -> None:
    store = (
        "class Store:\n"
        "    def put(self):\n"
        "        with self._engine.begin() as conn:\n"
        "            conn.execute(stmt)\n"
        "    def get(self):\n"
        "        with self._engine.connect() as conn:\n"
        "            return conn.execute(stmt).all()\n"
    )
    assert openings(store) == [(3, "begin"), (6, "connect")]
    assert openings("with transaction(self._engine) as conn:\n    conn.execute(x)\n") == []
