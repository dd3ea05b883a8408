"""The sandbox: a deterministic seed (checked by digest, across databases), reset, Alma's
daily threshold with X-Exl-Api-Remaining, the per-second threshold, injected errors and
latency, and the reset API -- on SQLite and PostgreSQL (and Redis for the daily counter)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from bookplate.api.app import create_app
from bookplate.api.sandbox import SandboxMiddleware
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.sandbox.population import INSTITUTION, population
from tests.functional.test_users_api import error_code

N = 30
REDIS_URL = os.environ.get("BOOKPLATE_TEST_REDIS_URL")


def _container(url: str, **settings: Any) -> Container:
    return build_container(
        Settings(database_url=url, cache_seconds=0, redis_url=None, **settings), migrate=True
    )


@pytest.fixture
def c(database_url: str) -> Iterator[Container]:
    container = _container(database_url)
    try:
        yield container
    finally:
        container.close()


def test_the_same_seed_gives_the_same_users_on_another_database(
    c: Container, tmp_path: Path
) -> None:
    c.sandbox.reset(INSTITUTION, N, 7)
    other = _container(f"sqlite:///{tmp_path}/other.db")
    try:
        other.sandbox.reset(INSTITUTION, N, 7)
        assert other.sandbox.digest(INSTITUTION) == c.sandbox.digest(INSTITUTION)
        other.sandbox.reset(INSTITUTION, N, 8)
        assert other.sandbox.digest(INSTITUTION) != c.sandbox.digest(INSTITUTION)
    finally:
        other.close()


def test_reset_returns_to_the_seed_after_changes(c: Container) -> None:
    c.sandbox.reset(INSTITUTION, N, 7)
    seeded = c.sandbox.digest(INSTITUTION)
    c.users.delete(INSTITUTION, "sb00003")
    from bookplate.alma.user import user_from_dict

    extra = dict(population(1, 99)[0].record, primary_id="intruder",
                 user_identifier=[], user_role=[])
    extra["record_type"] = {"value": "PUBLIC"}
    extra["user_group"] = {"value": "GRAD"}
    c.users.create(INSTITUTION, user_from_dict(extra), "test")
    assert c.sandbox.digest(INSTITUTION) != seeded
    c.sandbox.reset(INSTITUTION, N, 7)
    assert c.sandbox.digest(INSTITUTION) == seeded
    with pytest.raises(Exception, match="intruder"):
        c.users.get(INSTITUTION, "intruder")


def test_the_population_is_varied(c: Container) -> None:
    c.sandbox.reset(INSTITUTION, N, 7)
    users = [c.users.get(INSTITUTION, f"sb{i:05d}") for i in range(N)]
    names = "".join(u.first_name or "" for u in users) + "".join(u.last_name or "" for u in users)
    assert sum(1 for ch in names if ord(ch) > 0x2FF) > 10  # beyond Latin
    staff = [u for u in users if u.record_type == "STAFF"]
    assert len(staff) == 3 and all({r.role_type for r in s.roles} >= {"21", "32"} for s in staff)
    external = [u for u in users if u.account_type == "EXTERNAL"]
    assert external and all(u.external_id == "SIS" for u in external)
    assert any(u.blocks for u in users) and any(u.notes for u in users)
    assert any(u.proxy_for for u in users) and any(u.statistics for u in users)
    assert len({u.preferred_language for u in users}) >= 5


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.skipif(
    not REDIS_URL, reason="BOOKPLATE_TEST_REDIS_URL not set"))])
def quota_api(request: pytest.FixtureRequest, database_url: str) -> Iterator[
        tuple[TestClient, Container, str, str]]:
    redis_url = REDIS_URL if request.param == "redis" else None
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=redis_url,
                        daily_threshold=3, sandbox=True)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "a", parse_areas(["users:rw", "conf:ro"]), 10_000)
    _, second = container.keys.create("MAIN", "b", parse_areas(["users:ro"]), 10_000)
    # a day of its own, so that a shared Redis keeps no count from another run
    day = 86_400 * (1000 + os.getpid() % 5000)
    assert container.keys.daily is not None
    container.keys.daily.clock = lambda: day + 5.0
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).delete(f"bookplate:daily:daily:MAIN:{day + 86_400}")
    with TestClient(create_app(settings, container), raise_server_exceptions=False) as client:
        yield client, container, key, second
    container.close()


def test_the_daily_threshold_counts_down_then_answers_daily_threshold(
    quota_api: tuple[TestClient, Container, str, str],
) -> None:
    client, _c, key, second = quota_api
    test = "/almaws/v1/users/operation/test"
    seen = []
    for secret in (key, second, key):  # the institution's allowance, whichever key
        r = client.get(test, headers={"Authorization": f"apikey {secret}"})
        assert r.status_code == 200
        seen.append(r.headers["X-Exl-Api-Remaining"])
    assert seen == ["2", "1", "0"]
    over = client.get(test, headers={"Authorization": f"apikey {key}",
                                     "Accept": "application/json"})
    assert over.status_code == 429 and error_code(over) == "DAILY_THRESHOLD"
    assert over.headers["X-Exl-Api-Remaining"] == "0"
    body = over.json()
    assert body["errorsExist"] is True and body["result"] is None
    xml = client.get(test, headers={"Authorization": f"apikey {key}"})
    assert xml.status_code == 429 and error_code(xml) == "DAILY_THRESHOLD"
    assert etree.fromstring(xml.content) is not None


def test_without_a_threshold_no_header_is_sent(database_url: str) -> None:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "a", parse_areas(["users:ro"]), 10_000)
    with TestClient(create_app(settings, container)) as client:
        r = client.get("/almaws/v1/users/operation/test",
                       headers={"Authorization": f"apikey {key}"})
        assert r.status_code == 200 and "X-Exl-Api-Remaining" not in r.headers
    container.close()


def test_the_per_second_threshold_of_a_sandbox_key(
    quota_api: tuple[TestClient, Container, str, str],
) -> None:
    client, c, _key, _second = quota_api
    _, slow = c.keys.create("MAIN", "slow", parse_areas(["users:ro"]), 1)
    c.keys.clock = lambda: 5_000.0  # one and the same second for both calls
    headers = {"Authorization": f"apikey {slow}", "Accept": "application/json"}
    assert client.get("/almaws/v1/users/operation/test", headers=headers).status_code == 200
    again = client.get("/almaws/v1/users/operation/test", headers=headers)
    assert again.status_code == 429 and error_code(again) == "PER_SECOND_THRESHOLD"


def test_the_reset_api(quota_api: tuple[TestClient, Container, str, str]) -> None:
    client, c, key, second = quota_api
    c.keys.daily = None  # this test is about the reset, not the allowance
    read_only = client.post("/bookplate/v1/sandbox/reset",
                            headers={"Authorization": f"apikey {second}"})
    assert read_only.status_code == 400 and error_code(read_only) == "UNAUTHORIZED"
    r = client.post("/bookplate/v1/sandbox/reset", params={"users": "12", "seed": "5"},
                    headers={"Authorization": f"apikey {key}"})
    assert r.status_code == 200, r.text
    assert r.json()["users"] == 12 and r.json()["digest"] == c.sandbox.digest("MAIN")
    assert c.users.get("MAIN", "sb00011").primary_id == "sb00011"
    # the reset removed every key but the caller's (test_sandbox_reset.py)
    assert [k.key_id for k in c.keys.list("MAIN")] == [c.keys.authenticate(key).key_id]
    bad = client.post("/bookplate/v1/sandbox/reset", params={"users": "many"},
                      headers={"Authorization": f"apikey {key}"})
    assert bad.status_code == 400 and error_code(bad) == "40166411"


def test_the_reset_api_is_off_outside_the_sandbox(database_url: str) -> None:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "a", parse_areas(["users:rw"]), 10_000)
    with TestClient(create_app(settings, container)) as client:
        r = client.post("/bookplate/v1/sandbox/reset", headers={"Authorization": f"apikey {key}"})
        assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
    container.close()


def _faulty(database_url: str, rate: float) -> tuple[TestClient, Container, str]:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                        inject_error_rate=rate, inject_seed=3)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "a", parse_areas(["users:ro"]), 10_000)
    return TestClient(create_app(settings, container)), container, key


def test_injected_errors_are_alma_general_errors_and_repeatable(database_url: str) -> None:
    runs = []
    for _ in range(2):
        client, container, key = _faulty(database_url, 0.5)
        with client:
            statuses = [
                client.get("/almaws/v1/users/operation/test",
                           headers={"Authorization": f"apikey {key}",
                                    "Accept": "application/json"}).status_code
                for _ in range(16)
            ]
            failed = client.get("/almaws/v1/users/operation/test?format=json",
                                headers={"Authorization": f"apikey {key}"})
            # the web pages and Bookplate's own API are never disturbed
            assert client.get("/auth/login").status_code == 200
        container.close()
        runs.append(statuses)
    assert runs[0] == runs[1]  # the same seed, the same faults
    assert set(runs[0]) == {200, 500}
    if failed.status_code == 500:
        assert error_code(failed) == "60101"


def test_an_error_rate_of_one_fails_every_alma_call(database_url: str) -> None:
    client, container, key = _faulty(database_url, 1.0)
    with client:
        r = client.get("/almaws/v1/users", headers={"Authorization": f"apikey {key}"})
        assert r.status_code == 500 and error_code(r) == "60101"
    container.close()


def test_latency_is_added_to_alma_calls_only() -> None:
    waited: list[float] = []
    answered: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        answered.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = SandboxMiddleware(app, Settings(inject_latency_ms=250))

    async def record(seconds: float) -> None:
        waited.append(seconds)

    middleware.sleep = record  # type: ignore[assignment]

    async def call(path: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request"}

        async def send(message: dict[str, Any]) -> None:
            return None

        await middleware({"type": "http", "path": path, "headers": [], "query_string": b""},
                         receive, send)

    asyncio.run(call("/almaws/v1/users"))
    asyncio.run(call("/auth/login"))
    assert waited == [0.25]
    assert answered == ["/almaws/v1/users", "/auth/login"]
