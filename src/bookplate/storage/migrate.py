"""Schema migrations, driven by Alembic without an ini file."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from bookplate.storage.engine import make_engine
from bookplate.storage.tables import metadata
from bookplate.storage.transaction import connection as opened
from bookplate.storage.transaction import transaction

MIGRATIONS = Path(__file__).parent / "migrations"

#: The PostgreSQL advisory lock the migrations hold (``upgrade``), one per schema (a
#: deployment in its own schema migrates without waiting for another's).
_MIGRATION_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext('bookplate-migrations'))"
)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def _engine(target: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(target, Engine):
        return target, False
    return make_engine(target), True


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on the database at ``target`` (URL or engine)."""
    engine, owned = _engine(target)
    try:
        with transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting on an empty database (``serve`` and ``worker`` of one
                # deployment) would both create the schema and one would fail; the second now
                # waits here, then finds the schema at the head and does nothing. SQLite's write
                # transaction (BEGIN IMMEDIATE) already makes the second wait.
                connection.execute(text(_MIGRATION_LOCK))
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if owned:
            engine.dispose()


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration in the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def readiness(engine: Engine) -> str | None:
    """None when the database answers and is at the newest migration; else why not."""
    try:
        revision = current_revision(engine)
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable: {type(exc).__name__}"
    head = head_revision()
    if revision != head:
        return f"schema at revision {revision}, code expects {head}: run bookplate db upgrade"
    return None


def current_revision(target: str | URL | Engine) -> str | None:
    engine, owned = _engine(target)
    try:
        with opened(engine) as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def _not_procrastinate(name: str | None, type_: str, parent: Any) -> bool:
    """procrastinate's job tables (the SIS queue, ``storage.sis_queue``) are its own, not
    Alembic's."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def check_models_match(target: str | URL | Engine) -> list[Any]:
    """Differences between ``tables.metadata`` and the migrated database (empty when they
    match). A non-empty result means a model change has no migration."""
    engine, owned = _engine(target)
    try:
        with opened(engine) as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": False,
                    "include_name": _not_procrastinate,
                },
            )
            with warnings.catch_warnings():
                # The GIN index on users.search_terms is PostgreSQL's alone (``ddl_if``):
                # Alembic says that it cannot compare it on SQLite, where it never exists.
                warnings.filterwarnings(
                    "ignore",
                    message=r".*expression-based index 'ix_users_search_terms'; dialect 'sqlite'",
                    category=UserWarning,
                )
                diffs: list[Any] = compare_metadata(context, metadata)
            return diffs
    finally:
        if owned:
            engine.dispose()
