"""A container over a migrated database (SQLite, and PostgreSQL when configured) with a home
institution MAIN (an SIS profile feeds it) and two hosts, HOST1 and HOST2, that link its users."""

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
    for code in ("MAIN", "HOST1", "HOST2"):
        container.add_institution(code, code.title())
    container.sis.create_profile(
        Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD")
    )
    container.network.put_partner("HOST1", "MAIN", {"user_group": "GRAD"}, "test")
    container.network.put_partner("HOST2", "MAIN", {"expiry": "fixed",
                                                    "expiry_date": "2029-12-31",
                                                    "refresh_expiry": False}, "test")
    # The outbox is worked by the tests themselves (process_outbox), not in the background.
    container.network_refresh.close()
    try:
        yield container
        with container.engine.connect() as conn:
            assert orphan_side_rows(conn) == {}, "side rows left without their user"
    finally:
        container.close()
