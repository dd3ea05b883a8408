"""Operations: /health, /ready, /metrics, the request log, Swagger UI off by default and an
absolute default database path (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings, default_database_url
from bookplate.sis.model import Profile
from tests.functional.conftest import Api
from tests.integration.sis.helpers import user_xml, users_doc, write_zip


def test_health_and_ready(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok"}
    r = api.client.get("/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_ready_is_503_before_the_migrations(database_url: str) -> None:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=False)  # an empty database
    with TestClient(create_app(settings, container)) as client:
        r = client.get("/ready")
        assert r.status_code == 503
        assert r.json()["status"] == "not ready"
        assert "bookplate db upgrade" in r.json()["reason"]
        assert client.get("/health").status_code == 200  # alive all the same
    container.close()


def test_ready_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                        cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=False)
    with TestClient(create_app(settings, container)) as client:
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["reason"].startswith("database unreachable")
        assert "nobody" not in r.text  # no connection details leak
    container.close()


def test_metrics_count_requests_by_route_and_status_and_sis_runs(
    api: Api, tmp_path: Path
) -> None:
    api.client.get("/almaws/v1/users/nobody", headers=api.h())
    api.client.get("/almaws/v1/users/other-nobody", headers=api.h())
    api.client.get("/almaws/v1/users/operation/test", headers=api.h())
    c = api.container
    c.sis.create_profile(Profile("SIS", "MAIN", default_user_group="UNDERGRAD"))
    c.sis.run("MAIN", "SIS", write_zip(tmp_path / "a.zip", {"a.xml": users_doc(user_xml("u1"))}))
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert ('bookplate_http_requests_total{method="GET",route="/almaws/v1/users/{user_id}",'
            'status="400"} 2.0') in text
    assert ('bookplate_http_requests_total{method="GET",route="/almaws/v1/users/operation/test",'
            'status="200"} 1.0') in text
    assert "nobody" not in text  # IDs never become labels
    assert 'bookplate_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text
    assert 'bookplate_sis_runs{institution="MAIN",status="done"} 1.0' in text


def test_each_request_is_logged_at_info(api: Api) -> None:
    assert Settings().log_level == "INFO"
    with structlog.testing.capture_logs() as logs:
        api.client.get("/almaws/v1/users/operation/test", headers=api.h())
        api.client.get("/health")
    lines = [entry for entry in logs if entry.get("event") == "request"]
    assert len(lines) == 1  # probes are not logged
    line = lines[0]
    assert line["log_level"] == "info" and line["status"] == 200
    assert line["route"] == "/almaws/v1/users/operation/test"
    assert "apikey" not in str(line)


def test_swagger_ui_is_off_unless_asked_for(database_url: str) -> None:
    for docs, expected in ((False, 404), (True, 200)):
        settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                            api_docs=docs)
        container = build_container(settings, migrate=True)
        with TestClient(create_app(settings, container)) as client:
            assert client.get("/docs").status_code == expected
            assert client.get("/openapi.json").status_code == 200
        container.close()


def test_the_default_database_path_is_absolute_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOOKPLATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    first = Settings(_env_file=None).database_url
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Settings(_env_file=None).database_url == first == default_database_url()
    path = Path(first.removeprefix("sqlite:///"))
    assert path.is_absolute() and path == tmp_path / "data" / "bookplate" / "bookplate.db"
    c = build_container(Settings(_env_file=None), migrate=True)  # the folder is made
    c.close()
    assert path.exists()
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_database_url().endswith(
        os.path.join(".local", "share", "bookplate", "bookplate.db")
    )
