"""Is the schema at the newest migration? Answered without importing Alembic.

Every command that opens the database checks this first (``build_container(migrate=True)``),
and Alembic's import with its script directory took a tenth of a ``bookplate codes list``
(docs/benchmarks.md, "CLI start-up"). The head is read from the migration files' own
``revision`` / ``down_revision`` lines and compared with the ``alembic_version`` table;
Alembic is imported only when they differ, to upgrade (or when the files cannot be read
this way, so that Alembic decides)."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy is imported by stored_revisions: storage/sqlite_codes.py
    from sqlalchemy import Engine  # reads the head without it

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]+)?=\s*(.+)$", re.MULTILINE)


def _revisions(source: str) -> tuple[str, set[str]] | None:
    """(revision, the revisions it follows) of one migration file; None when unreadable."""
    found: dict[str, object] = {}
    for name, value in _ASSIGNMENT.findall(source):
        try:
            found.setdefault(name, ast.literal_eval(value.split("#")[0].strip()))
        except (ValueError, SyntaxError):
            return None
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str):
        return None
    if down is None:
        return revision, set()
    if isinstance(down, str):
        return revision, {down}
    if isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
        return revision, set(down)
    return None


@lru_cache(maxsize=1)
def head_from_files() -> str | None:
    """The one head revision of the migration files; None when there is not exactly one
    or a file does not state its revisions as plain strings."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name.startswith("__"):
            continue
        read = _revisions(path.read_text(encoding="utf-8"))
        if read is None:
            return None
        revisions.add(read[0])
        parents |= read[1]
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def stored_revisions(engine: Engine) -> set[str]:
    """The revisions in ``alembic_version`` (empty for a new database)."""
    from sqlalchemy import inspect, text  # noqa: PLC0415 (see the imports above)

    from bookplate.storage.transaction import connection  # noqa: PLC0415 (as above)

    # Not read_only: the read-only guard counts SQLite's PRAGMA (the table look-up) as a
    # write. Nothing is written; the connection closes without a commit.
    with connection(engine) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def at_head(engine: Engine) -> bool:
    """True when the database is known to be at the newest migration; False when it may not
    be (then the caller runs Alembic's upgrade, which also settles any doubt)."""
    head = head_from_files()
    return head is not None and stored_revisions(engine) == {head}
