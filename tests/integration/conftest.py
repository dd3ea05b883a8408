"""Integration fixtures: a migrated database, on SQLite and (when configured) PostgreSQL.

PostgreSQL runs when ``BOOKPLATE_TEST_POSTGRES_URL`` is set, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; each test gets a fresh schema (found
through ``search_path``) that is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from bookplate.storage.engine import make_engine, normalise_url
from bookplate.storage.integrity import orphan_side_rows
from bookplate.storage.migrate import upgrade

POSTGRES_ENV = "BOOKPLATE_TEST_POSTGRES_URL"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not yet migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bookplate.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = normalise_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A database migrated to head by the real migrations. Afterwards every side row must
    still have its user: the schema has no foreign key that would say so (``integrity``)."""
    upgrade(database_url)
    eng = make_engine(database_url)
    try:
        yield eng
        with eng.connect() as conn:
            assert orphan_side_rows(conn) == {}, "side rows left without their user"
    finally:
        eng.dispose()
