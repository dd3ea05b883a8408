"""A fresh PostgreSQL schema per test (or module), for the tests that run on PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

PG_URL = os.environ.get("BOOKPLATE_TEST_POSTGRES_URL")


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """Create a schema in the test database, yield a URL whose search_path points at it, and
    drop it afterwards. Requires BOOKPLATE_TEST_POSTGRES_URL."""
    if not PG_URL:
        raise RuntimeError("BOOKPLATE_TEST_POSTGRES_URL is not set")
    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
