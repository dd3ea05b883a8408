"""An app over a real database (SQLite file, and PostgreSQL when configured) per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from tests.pg import PG_URL, postgres_schema

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/bookplate.db"
        return
    if not PG_URL:
        pytest.skip("BOOKPLATE_TEST_POSTGRES_URL not set")
    with postgres_schema() as url:
        yield url


@dataclass
class Api:
    client: TestClient
    container: Container
    key: str  # users:rw, conf:ro, institution MAIN
    ro_key: str  # users:ro
    conf_key: str  # conf:ro only
    other_key: str  # users:rw in institution OTHER

    def h(self, key: str | None = None, json: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"apikey {key or self.key}"}
        if json:
            headers["Accept"] = "application/json"
        return headers


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = Settings(
        database_url=database_url, max_body_bytes=200_000, cache_seconds=0, redis_url=None
    )
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    container.add_institution("OTHER", "Other College")
    from bookplate.keys.services import parse_areas

    _, key = container.keys.create("MAIN", "rw", parse_areas(["users:rw", "conf:ro"]), 10_000)
    _, ro = container.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    _, conf = container.keys.create("MAIN", "conf", parse_areas(["conf:ro"]), 10_000)
    _, other = container.keys.create("OTHER", "rw", parse_areas(["users:rw"]), 10_000)
    app = create_app(settings, container)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, container, key, ro, conf, other)
    container.close()
