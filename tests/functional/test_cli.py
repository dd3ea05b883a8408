"""The ``bookplate`` command with good and bad input (SQLite file per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bookplate.api.app import create_app
from bookplate.cli.main import app
from bookplate.config import Settings, get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", url)
    monkeypatch.delenv("BOOKPLATE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_quickstart_prints_a_working_key(database: str) -> None:
    code, out = run("quickstart", "--no-serve")
    assert code == 0, out
    secret = next(line.split()[-1] for line in out.splitlines() if "API key" in line)
    client = TestClient(create_app(Settings(database_url=database)))
    with client:
        r = client.get(
            "/almaws/v1/users/operation/test", headers={"Authorization": f"apikey {secret}"}
        )
        assert r.status_code == 200
        conf = client.get(
            "/almaws/v1/conf/code-tables/UserGroups", headers={"Authorization": f"apikey {secret}"}
        )
        assert conf.status_code == 200
    client.app.state.container.close()  # type: ignore[attr-defined]
    # a second quickstart keeps the data and makes another key
    code, out = run("quickstart", "--no-serve")
    assert code == 0
    assert "created" not in out


def test_institutions() -> None:
    assert run("institutions", "add", "LIB1", "Library One")[0] == 0
    code, out = run("institutions", "add", "LIB1", "Again")
    assert code == 1
    assert "exists" in out
    code, out = run("institutions", "list")
    assert "LIB1" in out
    assert "network" in out
    assert run("institutions", "id-scope", "institution")[0] == 0
    assert "institution" in run("institutions", "list")[1]
    assert run("institutions", "id-scope", "galaxy")[0] == 2


def test_keys_good_and_bad() -> None:
    run("institutions", "add", "LIB1", "Library One")
    code, out = run("keys", "create", "--institution", "LIB1", "--area", "users:rw")
    assert code == 0, out
    key_id = out.split()[2]
    assert out.strip().splitlines()[-1].startswith("bp_")
    assert key_id in run("keys", "list")[1]
    for bad in (["--area", "bananas:rw"], ["--area", "users:admin"]):
        code, out = run("keys", "create", "--institution", "LIB1", *bad)
        assert code == 1
        assert "bad --area" in out
    code, out = run("keys", "create", "--institution", "NOPE", "--area", "users:ro")
    assert code == 1
    assert "no institution" in out
    assert (
        run("keys", "create", "--institution", "LIB1", "--area", "users:ro", "--per-second", "0")[0]
        == 2
    )
    assert run("keys", "revoke", key_id)[0] == 0
    assert run("keys", "revoke", "doesnotexist")[0] == 1


def test_codes_good_and_bad() -> None:
    run("institutions", "add", "LIB1", "Library One")
    assert run("codes", "set", "LIB1", "UserGroups", "08", "Staff group")[0] == 0
    assert "08" in run("codes", "list", "LIB1", "UserGroups")[1]
    assert run("codes", "group", "LIB1", "08", "--record-type", "public")[0] == 0
    assert run("codes", "group", "LIB1", "08", "--record-type", "ROBOT")[0] == 1
    assert run("codes", "set", "LIB1", "UserGroups", " ", "blank")[0] == 1
    assert run("codes", "set", "LIB1", "UserGroups", "x" * 300, "long")[0] == 1
    assert run("codes", "remove", "LIB1", "UserGroups", "08")[0] == 0
    assert run("codes", "remove", "LIB1", "UserGroups", "08")[0] == 1
    assert run("codes", "set", "LIB1", "UserGroupz", "X", "typo in table")[0] == 1
    assert run("codes", "set", "NOPE", "UserGroups", "X", "no institution")[0] == 1
    assert run("codes", "set", "LIB1", "UserGroups", "'; DROP TABLE users;--", "x")[0] == 0
    assert "DROP" in run("codes", "list", "LIB1", "UserGroups")[1]


def test_db_commands() -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run("db", "check")
    assert code == 0, out


def test_openapi_export(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert run("openapi", "--out", str(target))[0] == 0
    assert '"/almaws/v1/users"' in target.read_text()
