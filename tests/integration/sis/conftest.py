"""A container over a migrated database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.sis.model import Profile
from bookplate.storage.integrity import orphan_side_rows


@pytest.fixture
def c(database_url: str) -> Iterator[Container]:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    container.sis.create_profile(
        Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD")
    )
    try:
        yield container
        with container.engine.connect() as conn:
            assert orphan_side_rows(conn) == {}, "side rows left without their user"
    finally:
        container.close()
