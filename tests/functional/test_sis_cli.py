"""``bookplate sis``: profiles, sync with exit codes, dry run plan files, report, inbox."""

from __future__ import annotations

import csv
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


def test_runs_list_reports_and_plan_exports(cli: CliRunner, tmp_path: Path) -> None:
    first = tmp_path / "first.xml"
    first.write_bytes(
        users_doc(user_xml("u1", email="old@x.edu"), user_xml("u2"), user_xml("u3"))
    )
    assert cli.invoke(app, ["sis", "sync", str(first), "-p", "SIS", "--no-progress"]).exit_code == 0
    second = tmp_path / "second.xml"
    second.write_bytes(
        users_doc(user_xml("u1", email="new@x.edu"), user_xml("u2"), user_xml("u3", last="Park"))
    )
    jsonl, csv_out = tmp_path / "plan.jsonl", tmp_path / "plan.csv"
    for out in (jsonl, csv_out):
        result = cli.invoke(
            app,
            ["sis", "sync", str(second), "-p", "SIS", "--dry-run", "--plan-out", str(out),
             "--no-progress"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    # An unchanged record names its user too.
    assert [(x["action"], x["primary_id"]) for x in lines] == [
        ("update", "u1"),
        ("unchanged", "u2"),
        ("update", "u3"),
    ]
    # Only the email that changed, not the whole lists.
    gone, came = lines[0]["diff"]["emails"]
    assert [e["email_address"] for e in gone] == ["old@x.edu"]
    assert [e["email_address"] for e in came] == ["new@x.edu"]
    with csv_out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["primary_id"], r["field"], r["old"], r["new"]) for r in rows if r["field"]] == [
        ("u1", "emails", "email_address=old@x.edu; email_types=personal; preferred=true; "
         "segment_type=External", "email_address=new@x.edu; email_types=personal; "
         "preferred=true; segment_type=External"),
        ("u3", "last_name", "Lee", "Park"),
    ]  # fmt: skip
    assert all(not r["new"].startswith(("{", "[")) for r in rows)
    # The stored report as JSON: the diff is an object, not a string.
    report = json.loads(cli.invoke(app, ["sis", "report", "2", "--json"]).output)
    update = next(i for i in report["items"] if i["primary_id"] == "u3")
    assert update["diff"] == {"last_name": ["Lee", "Park"]} and update["reason"] is None
    unchanged = next(i for i in report["items"] if i["action"] == "unchanged")
    assert unchanged["primary_id"] == "u2"
    # The run list: a dry-run column and the reason a run failed.
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert cli.invoke(app, ["sis", "sync", str(junk), "-p", "SIS"]).exit_code == 2
    # A wide terminal: the consoles read COLUMNS when they print (cli/output.py).
    listing = CliRunner().invoke(app, ["sis", "runs", "-i", "MAIN"], env={"COLUMNS": "400"}).output
    assert "dry run" in listing
    row = {line.split()[1]: line for line in listing.splitlines() if line[:1] in "│┃|"
           and len(line.split()) > 2 and line.split()[1].isdigit()}  # fmt: skip
    assert "yes" in row["2"] and "yes" not in row["1"]
    assert "not a readable zip archive" in row["4"]


def test_inbox_failed_files_end_failed_with_their_reason(cli: CliRunner, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_zip(inbox / "a.zip", {"u.xml": users_doc(user_xml("u1"))})
    (inbox / "b.zip").write_bytes(b"PK\x03\x04 not really")
    write_lying_zip(inbox / "c.zip", "u.xml", users_doc(*(user_xml(f"b{i}") for i in range(5000))))
    result = cli.invoke(app, ["sis", "watch", str(inbox), "-p", "SIS", "--once"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == [
        "a.zip.handled",
        "b.zip.failed",
        "b.zip.failed.txt",
        "c.zip.failed",
        "c.zip.failed.txt",
    ]
    assert "not a readable zip archive" in (inbox / "b.zip.failed.txt").read_text()
    assert "declares false sizes" in (inbox / "c.zip.failed.txt").read_text()
