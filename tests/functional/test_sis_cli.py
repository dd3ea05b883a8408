"""``bookplate sis``: profiles, sync with exit codes, dry run plan files, report, inbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bookplate.cli.main import app
from bookplate.config import get_settings
from tests.integration.sis.helpers import user_xml, users_doc, write_lying_zip, write_zip


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("BOOKPLATE_SIS_SPOOL", str(tmp_path / "spool"))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["institutions", "add", "MAIN", "Main"]).exit_code == 0
    result = runner.invoke(
        app, ["sis", "profile", "create", "SIS", "-i", "MAIN", "--default-user-group", "UNDERGRAD"]
    )
    assert result.exit_code == 0, result.output
    yield runner
    get_settings.cache_clear()


def test_sync_exit_codes_report_and_plan(cli: CliRunner, tmp_path: Path) -> None:
    good = write_zip(tmp_path / "good.zip", {"u.xml": users_doc(user_xml("u1"), user_xml("u2"))})
    result = cli.invoke(app, ["sis", "sync", str(good), "--profile", "SIS", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "create" in result.output
    bad = write_zip(tmp_path / "bad.zip", {"u.xml": users_doc(user_xml("u1"), user_xml("u1"))})
    plan = tmp_path / "plan.jsonl"
    result = cli.invoke(
        app, ["sis", "sync", str(bad), "-p", "SIS", "--dry-run", "--plan-out", str(plan)]
    )
    assert result.exit_code == 1
    assert [json.loads(x)["action"] for x in plan.read_text().splitlines()] == [
        "unchanged",
        "reject",
    ]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert cli.invoke(app, ["sis", "sync", str(junk), "-p", "SIS"]).exit_code == 2
    result = cli.invoke(app, ["sis", "report", "1", "--json"])
    data = json.loads(result.output)
    assert data["create"] == 2 and len(data["items"]) == 2
    assert "SIS" in cli.invoke(app, ["sis", "profile", "list"]).output
    assert json.loads(cli.invoke(app, ["sis", "profile", "show", "SIS"]).output)["code"] == "SIS"


def test_inbox_renames_handled(cli: CliRunner, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_zip(inbox / "a.zip", {"u.xml": users_doc(user_xml("u1"))})
    result = cli.invoke(app, ["sis", "watch", str(inbox), "-p", "SIS", "--once"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["a.zip.handled"]


def test_zip_lying_about_its_size_exits_2_with_its_reason(cli: CliRunner, tmp_path: Path) -> None:
    bomb = write_lying_zip(
        tmp_path / "bomb.zip", "u.xml", users_doc(*(user_xml(f"b{i}") for i in range(20_000)))
    )
    result = cli.invoke(app, ["sis", "sync", str(bomb), "-p", "SIS", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "the archive is damaged or declares false sizes" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit(2), nothing raised past it


def test_profile_update_changes_only_what_is_given(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        [
            "sis", "profile", "create", "REG", "-i", "MAIN",
            "--default-user-group", "UNDERGRAD", "--expiry-days", "365",
            "--missing", "deactivate", "--guard-share", "0.3",
            "--rule", "job_description=keep",
            "--csv-column", "ID=primary_id", "--csv-column", "Card=identifier.BARCODE",
            "--csv-multi-separator", "|",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = cli.invoke(
        app,
        [
            "sis", "profile", "update", "REG", "--guard-share", "0.5",
            "--csv-column", "Mail=email.school", "--remove-csv-column", "Card",
            "--csv-missing-columns", "keep",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(cli.invoke(app, ["sis", "profile", "show", "REG"]).output)
    assert shown["guard_share"] == 0.5
    assert shown["csv"]["columns"] == {"ID": "primary_id", "Mail": "email.school"}
    assert shown["csv"]["missing_columns"] == "keep"
    # Everything not given is as it was.
    assert shown["default_user_group"] == "UNDERGRAD" and shown["expiry_days"] == 365
    assert shown["missing_policy"] == "deactivate"
    assert shown["field_rules"] == {"job_description": "keep"}
    assert shown["csv"]["multi_separator"] == "|"
    bad = cli.invoke(app, ["sis", "profile", "update", "REG", "--csv-missing-columns", "x"])
    assert bad.exit_code == 2 and "refuse or keep" in bad.output
    assert cli.invoke(app, ["sis", "profile", "update", "NOPE"]).exit_code == 2


def test_csv_without_the_mapped_primary_id_column_exits_2_naming_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(
        app, ["sis", "profile", "update", "SIS", "--csv-column", "Student ID=primary_id"]
    )
    assert result.exit_code == 0, result.output
    f = tmp_path / "u.csv"
    f.write_text("ID,last_name\ns1,Lee\n")
    result = cli.invoke(app, ["sis", "sync", str(f), "-p", "SIS", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "'Student ID'" in result.output and "Invalid users integration profile" not in (
        result.output
    )
