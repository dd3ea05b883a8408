"""Bad input to any ``bookplate`` command ends with exit 2 and one line on standard error,
``error: …`` (with the Alma code where the error carries one), never a traceback; and a
refused command changes nothing (SQLite file per test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bookplate.cli.main import app
from bookplate.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/errors.db"
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", url)
    monkeypatch.delenv("BOOKPLATE_REDIS_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    for code in ("MAIN", "OTHER"):
        assert runner.invoke(app, ["institutions", "add", code, code]).exit_code == 0
    (tmp_path / "not.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "latin1.json").write_bytes(b'{"label": "caf\xe9"}')
    (tmp_path / "empty.json").write_text("{}", encoding="utf-8")
    yield url
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _each(command: list[str], *endings: list[str]) -> list[list[str]]:
    """``command`` followed by each of ``endings``: one bad-input case per ending."""
    return [[*command, *ending] for ending in endings]


BAD: list[list[str]] = [
    # roles, libraries, staff
    ["roles", "profiles", "NOPE"],
    ["roles", "profile-set", "NOPE", "P", "Name", "--role", "21"],
    *_each(["roles", "profile-set", "MAIN"],
           *(["P", "Name", "--role", role] for role in ("200!someday", "32@MAIN#broken",
                                                        "@MAIN", "777")),
           ["P", "Name"],  # --role missing
           ["P\x00", "Name", "--role", "21"]),
    ["roles", "profile-remove", "MAIN", "NOPROFILE"],
    ["roles", "rules", "NOPE"],
    ["roles", "rule-set", "MAIN", "r1", "NOPROFILE"],
    ["roles", "rule-set", "MAIN", "r1", "P", "--record-type", "ROBOT"],
    ["roles", "rule-set", "MAIN", "r1", "P", "--position", "first"],  # not a number
    ["roles", "rule-remove", "MAIN", "norule"],
    ["roles", "restricted", "NOPE", "--user-group", "STAFF"],
    ["roles", "history", "NOPE"],
    ["roles", "nonsense"],
    ["libraries", "set", "NOPE", "LIB", "Name"],
    ["libraries", "set", "MAIN", "x" * 70, "Too long"],
    ["libraries", "set", "MAIN", "A B", "Spaces"],
    ["libraries", "list", "NOPE"],
    ["staff", "token", "NOPE", "u1"],
    ["staff", "token", "MAIN", "nobody"],
    ["staff", "token", "MAIN", "u\x00"],
    ["staff", "revoke", "nosuchtoken"],
    # network
    ["network", "partner-set", "NOPE", "MAIN"],
    ["network", "partner-set", "MAIN", "NOPE"],
    ["network", "partner-set", "MAIN", "OTHER", "--set", "nonsense"],
    ["network", "partner-set", "MAIN", "OTHER", "--set", "expiry=never"],
    ["network", "partner-list", "NOPE"],
    ["network", "partner-remove", "MAIN", "OTHER"],
    ["network", "member-set", "NOPE"],
    ["network", "member-set", "MAIN", "--searchable", "NOPE"],
    ["network", "link", "MAIN", "OTHER", "nobody"],
    ["network", "link", "MAIN", "NOPE", "nobody"],
    ["network", "refresh", "MAIN", "nobody"],
    ["network", "id-scope", "planet"],
    ["network", "worker", "--concurrency", "0"],
    # auth
    ["auth", "rotate-keys", "NOPE"],
    ["auth", "ldap", "add", "NOPE", "dir", "--config", "empty.json"],
    *_each(["auth", "ldap", "add", "MAIN", "dir"],
           *(["--config", name] for name in ("absent.json", "not.json", "list.json",
                                             "latin1.json", "empty.json", ".")),
           []),  # --config missing
    ["auth", "saml", "add", "MAIN", "bad code", "--config", "empty.json"],
    ["auth", "saml", "list", "NOPE"],
    ["auth", "cas", "remove", "MAIN", "nothere"],
    ["auth", "oidc", "remove", "NOPE", "x"],
    ["auth", "unlock", "NOPE", "u1"],
    ["auth", "unlock", "MAIN", "nobody"],
    ["auth", "reset-password", "MAIN", "nobody"],
    ["auth", "reset-password", "MAIN", ""],
    ["auth", "registrations", "NOPE"],
    # sandbox
    ["sandbox", "--users", "-1", "--no-serve"],
    ["sandbox", "--port", "0", "--no-serve"],
    ["sandbox", "--error-rate", "2", "--no-serve"],
    ["sandbox", "reset", "--users", "many"],
    ["sandbox", "reset", "--seed", "-1"],
    # the other groups
    ["db", "reindex", "--batch", "0"],
    ["keys", "revoke", "nokey"],
    ["codes", "remove", "MAIN", "UserGroups", "NOCODE"],
    ["codes", "group", "MAIN", "STAFF"],  # --record-type missing
    ["config", "import", "MAIN", "absent-folder"],
    ["sis", "profile", "show", "NOPROFILE", "-i", "MAIN"],
    ["sis", "sync", "absent.zip", "-p", "NOPROFILE"],
    ["sis", "requeue"],  # no run ids and no --stalled
    ["nonsense"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a)[:60].replace("\x00", "NUL"))
def test_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    before = invoke("roles", "history", "MAIN")[1]
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert out.strip() == ""  # nothing said on standard output
    assert invoke("roles", "history", "MAIN")[1] == before  # nothing changed


def test_the_line_names_what_is_wrong_and_the_alma_code() -> None:
    _, _, err = invoke("roles", "profiles", "NOPE")
    assert "no institution NOPE" in err and "bookplate institutions list" in err
    _, _, err = invoke("network", "partner-set", "MAIN", "NOPE")
    assert "(Alma code 60224)" in err
    _, _, err = invoke("roles", "profile-set", "MAIN", "P", "Name")
    assert "Missing option '--role'" in err and "bookplate roles profile-set --help" in err
    _, _, err = invoke("auth", "ldap", "add", "MAIN", "dir", "--config", "not.json")
    assert "not.json is not JSON" in err and "line 1" in err


def test_requeue_with_no_run_stalled_queues_nothing_and_succeeds() -> None:
    code, out, err = invoke("sis", "requeue", "--stalled")
    assert (code, err) == (0, "") and "No stalled runs to queue." in out


def test_a_refusal_of_well_formed_input_exits_1_with_one_line() -> None:
    code, _, err = invoke("institutions", "add", "MAIN", "Again")
    assert code == 1 and err.count("\n") == 1 and "exists" in err


def test_a_profile_file_from_standard_input_is_read_and_checked() -> None:
    result = runner.invoke(app, ["auth", "cas", "add", "MAIN", "c1", "--config", "-"],
                           input=json.dumps([1]))
    assert result.exit_code == 2 and "must be a JSON object" in result.stderr
