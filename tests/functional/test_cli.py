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
        assert code == 2
        assert "bad --area" in out
    code, out = run("keys", "create", "--institution", "NOPE", "--area", "users:ro")
    assert code == 2
    assert "no institution" in out
    assert (
        run("keys", "create", "--institution", "LIB1", "--area", "users:ro", "--per-second", "0")[0]
        == 2
    )
    assert run("keys", "revoke", key_id)[0] == 0
    assert run("keys", "revoke", "doesnotexist")[0] == 2


def test_codes_good_and_bad() -> None:
    run("institutions", "add", "LIB1", "Library One")
    assert run("codes", "set", "LIB1", "UserGroups", "08", "Staff group")[0] == 0
    assert "08" in run("codes", "list", "LIB1", "UserGroups")[1]
    assert run("codes", "group", "LIB1", "08", "--record-type", "public")[0] == 0
    assert run("codes", "group", "LIB1", "08", "--record-type", "ROBOT")[0] == 2
    assert run("codes", "set", "LIB1", "UserGroups", " ", "blank")[0] == 2
    assert run("codes", "set", "LIB1", "UserGroups", "x" * 300, "long")[0] == 2
    assert run("codes", "remove", "LIB1", "UserGroups", "08")[0] == 0
    assert run("codes", "remove", "LIB1", "UserGroups", "08")[0] == 2
    assert run("codes", "set", "LIB1", "UserGroupz", "X", "typo in table")[0] == 2
    assert run("codes", "set", "NOPE", "UserGroups", "X", "no institution")[0] == 2
    # The pages' rule: a code holds no spaces; an injection string without them is data.
    assert run("codes", "set", "LIB1", "UserGroups", "'; DROP TABLE users;--", "x")[0] == 2
    assert run("codes", "set", "LIB1", "UserGroups", "';DROP_TABLE_users;--", "x")[0] == 0
    assert "DROP" in run("codes", "list", "LIB1", "UserGroups")[1]


def test_db_commands() -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run("db", "check")
    assert code == 0, out


def test_db_check_finds_side_rows_without_their_user(database: str) -> None:
    """The side tables have no foreign key: ``db check`` is what reports a lost user."""
    import sqlalchemy as sa

    assert run("db", "upgrade")[0] == 0
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO user_terms (user_pk, institution, field, term) "
            "VALUES (424242, 'LIB1', 'last_name', 'ghost')"
        )
    engine.dispose()
    code, out = run("db", "check")
    assert code == 1
    assert "user_terms: 1 rows whose user is gone" in out


def test_db_reindex_rebuilds_lost_search_terms(database: str) -> None:
    import sqlalchemy as sa

    from bookplate.bootstrap import build_container
    from bookplate.users.model import User, UserInput
    from bookplate.users.queries import UserSearch, parse_q

    assert run("institutions", "add", "LIB1", "Library One")[0] == 0
    settings = Settings(database_url=database)
    c = build_container(settings)
    c.users.create("LIB1", UserInput(User("jdoe", last_name="Okafor")), "cli-test")
    c.close()
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM user_terms")
    engine.dispose()

    def found() -> list[str]:
        c = build_container(settings)
        try:
            search = UserSearch("LIB1", parse_q("last_name~okafor"))
            return [u.primary_id for u in c.users.search(search).users]
        finally:
            c.close()

    assert found() == []
    code, out = run("db", "reindex", "--batch", "10")
    assert code == 0, out
    assert "Reindexed 1 users" in out
    assert found() == ["jdoe"]
    code, out = run("db", "reindex", "--batch", "0")
    assert code == 2
    assert "--batch must be between 1 and 100000" in out
    assert "Traceback" not in out


def test_openapi_export(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert run("openapi", "--out", str(target))[0] == 0
    assert '"/almaws/v1/users"' in target.read_text()


def test_roles_libraries_and_staff_commands() -> None:
    run("institutions", "add", "LIB1", "Library One")
    assert run("libraries", "set", "LIB1", "MUSIC", "Music library", "--desk", "M1")[0] == 0
    assert "M1" in run("libraries", "list", "LIB1")[1]
    assert run("libraries", "set", "LIB1", "x" * 70, "Too long")[0] == 2
    code, out = run("roles", "profile-set", "LIB1", "DESK", "Desk staff",
                    "--role", "32@MUSIC#CirculationDesk:MUSIC:M1", "--role", "200!2030-12-31")
    assert code == 0, out
    assert "32@MUSIC" in run("roles", "profiles", "LIB1")[1]
    for bad in ("777@LIB1", "32@NOWHERE", "32@MUSIC#CirculationDesk:MUSIC:NODESK",
                "32@MUSIC#broken", "200!someday", "@LIB1"):
        code, out = run("roles", "profile-set", "LIB1", "BAD", "Bad", "--role", bad)
        assert code in (1, 2), (bad, out)
    assert run("roles", "rule-set", "LIB1", "desk", "DESK", "--job-category",
               "Circulation", "--record-type", "staff")[0] == 0
    assert "desk" in run("roles", "rules", "LIB1")[1]
    assert run("roles", "rule-set", "LIB1", "x", "NOPROFILE")[0] == 2
    assert run("roles", "rule-set", "LIB1", "x", "DESK", "--record-type", "ROBOT")[0] == 2
    assert run("roles", "profile-remove", "LIB1", "DESK")[0] == 2  # a rule still uses it
    assert run("roles", "rule-remove", "LIB1", "desk")[0] == 0
    assert run("roles", "profile-remove", "LIB1", "DESK")[0] == 0
    assert run("roles", "restricted", "LIB1", "--user-group", "STAFF")[0] == 0
    history = run("roles", "history", "LIB1")[1]
    assert "roles.restricted.set" in history
    assert "cli" in history
    assert run("staff", "token", "LIB1", "nobody")[0] == 2
    assert run("staff", "revoke", "nosuchtoken")[0] == 2


def test_codes_set_in_batches(tmp_path: Path) -> None:
    run("institutions", "add", "LIB1", "Library One")
    code, out = run("codes", "set", "LIB1", "UserGroups", "G1", "One", "G2", "Two", "G3", "Three")
    assert code == 0, out
    listed = run("codes", "list", "LIB1", "UserGroups")[1]
    assert all(g in listed for g in ("G1", "G2", "G3"))
    codes = tmp_path / "codes.csv"
    codes.write_text("F1,From file\nF2,Second,false\n\nF3,Third,yes,no\n", encoding="utf-8")
    code, out = run("codes", "set", "LIB1", "UserGroups", "--file", str(codes))
    assert code == 0 and "3 code(s) set" in out, out
    listed = run("codes", "list", "LIB1", "UserGroups")[1]
    assert all(g in listed for g in ("F1", "F2", "F3"))
    # One bad row changes nothing.
    bad = tmp_path / "bad.csv"
    bad.write_text("B1,Fine\nB2,Bad flag,perhaps\n", encoding="utf-8")
    code, out = run("codes", "set", "LIB1", "UserGroups", "--file", str(bad))
    assert code == 2 and "line 2" in out and "Traceback" not in out
    assert run("codes", "set", "LIB1", "UserGroups", "B1", "ok", " ", "blank")[0] == 2
    assert run("codes", "set", "LIB1", "UserGroups", "odd")[0] == 2
    assert "B1" not in run("codes", "list", "LIB1", "UserGroups")[1]


def test_sandbox_seeds_prints_a_working_key_and_reset_restores(database: str) -> None:
    code, out = run("sandbox", "--users", "12", "--seed", "4", "--no-serve")
    assert code == 0, out
    secret = next(line.split()[-1] for line in out.splitlines() if line.startswith("API key"))
    digest = next(line.split()[-1] for line in out.splitlines() if "; digest " in line)
    assert "/auth/login" in out and "http://127.0.0.1:8000/almaws/v1" in out
    client = TestClient(create_app(Settings(database_url=database)))
    with client:
        r = client.get("/almaws/v1/users", params={"format": "json", "apikey": secret})
        assert r.json()["total_record_count"] == 12
        client.delete("/almaws/v1/users/sb00001", params={"apikey": secret})
    code, again = run("sandbox", "--no-serve")  # data kept: no reseed on a second start
    assert code == 0 and "kept as it was" in again
    code, out = run("sandbox", "reset", "--users", "12", "--seed", "4")
    assert code == 0, out
    assert out.split()[-1] == digest


def test_codes_tables_and_standard(database: str) -> None:
    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    code, out = run("codes", "tables", "MAIN")
    assert code == 0 and "CountryCodes" in out and "UserGroups" in out
    code, out = run("codes", "standard", "MAIN")
    assert code == 0 and "CountryCodes: 0 codes added." in out  # a new one has them all
    assert run("codes", "tables", "NOPE")[0] == 2
    assert run("codes", "standard", "NOPE")[0] == 2


def test_quickstart_says_where_it_serves_and_where_staff_sign_in(database: str) -> None:
    code, out = run("quickstart", "--no-serve", "--port", "8123")
    assert code == 0, out
    assert "http://127.0.0.1:8123/almaws/v1" in out
    assert "http://127.0.0.1:8123/auth/login" in out


def test_staff_token_refuses_a_patron_and_names_the_role_to_add(database: str) -> None:
    assert run("sandbox", "--users", "3", "--no-serve")[0] == 0
    code, out = run("staff", "token", "SANDBOX", "sb00001")  # a patron
    assert code == 1
    assert "no staff privileges" in out and "21 (User Manager)" in out
    assert len(out.strip().splitlines()) == 1 and out.startswith("error:")  # no token printed
    code, out = run("staff", "token", "SANDBOX", "sb00000")  # staff: roles 21, 32, 50
    assert code == 0 and out.strip().splitlines()[-1].startswith("bpt_")
