"""Thread pools of a worker: the blocking handlers share a small pool sized by
``worker_threads``; sign-ins that wait on another server have their own pool, so they cannot
take the API's threads (src/bookplate/web/threads.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas


@pytest.fixture
def app_parts(tmp_path: Path) -> Iterator[tuple[TestClient, object, str]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/b.db",
        cache_seconds=0,
        redis_url=None,
        worker_threads=1,
        sign_in_threads=3,
    )
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "rw", parse_areas(["users:rw"]), 10_000)
    app = create_app(settings, container)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, container, key
    container.close()


def test_pools_are_sized_from_the_settings(app_parts: tuple[TestClient, object, str]) -> None:
    client, _, _ = app_parts
    assert client.portal is not None
    tokens = client.portal.call(
        lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
    )
    assert tokens == 1
    assert client.app.state.sign_in_limiter.total_tokens == 3  # type: ignore[attr-defined]


def test_a_hanging_sign_in_does_not_hold_the_api_threads(
    app_parts: tuple[TestClient, object, str],
) -> None:
    client, container, key = app_parts
    entered, release = threading.Event(), threading.Event()

    real = container.external  # type: ignore[attr-defined]

    class HangingLogins:
        def legs(self, method: str, endpoint: str) -> object:
            return real.legs(method, endpoint)  # which URLs exist stays the real backends'

        def metadata(self, method: str, code: str, institution: str | None) -> tuple[str, str]:
            entered.set()
            release.wait(10)
            return "<EntityDescriptor/>", "application/samlmetadata+xml"

    container.__dict__["external"] = HangingLogins()  # the cached property, replaced
    answers: list[int] = []
    waiting = threading.Thread(
        target=lambda: answers.append(client.get("/auth/saml/idp/metadata").status_code)
    )
    waiting.start()
    try:
        assert entered.wait(10), "the sign-in handler never started"
        # The only API thread is free although a sign-in is still waiting on its server:
        # a search (a ``def`` handler, run in the default pool) answers at once.
        r = client.get(
            "/almaws/v1/users?limit=1",
            headers={"Authorization": f"apikey {key}", "Accept": "application/json"},
        )
        assert r.status_code == 200
        assert r.json()["total_record_count"] == 0
        assert answers == []  # still hanging
    finally:
        release.set()
        waiting.join(10)
    assert answers == [200]


@pytest.mark.parametrize(
    "env",
    [
        {"BOOKPLATE_WORKER_THREADS": "0"},
        {"BOOKPLATE_WORKER_THREADS": "-3"},
        {"BOOKPLATE_WORKER_THREADS": "two"},
        {"BOOKPLATE_WORKER_THREADS": "100000"},
        {"BOOKPLATE_SIGN_IN_THREADS": "0"},
        {"BOOKPLATE_SIGN_IN_THREADS": "1e9"},
    ],
)
def test_pool_sizes_out_of_range_are_refused_at_start(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert next(iter(env)).removeprefix("BOOKPLATE_").lower() in str(refused.value)
