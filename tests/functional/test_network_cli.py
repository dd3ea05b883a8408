"""``bookplate network``: partners and rules, links, the outbox, and switching the ID rule
with every existing ID checked first and the clashes reported as CSV (SQLite file)."""

from __future__ import annotations

import csv
from pathlib import Path

from bookplate.bootstrap import build_container
from bookplate.config import get_settings
from bookplate.users.model import Identifier, User, UserInput
from tests.functional.test_cli import database, run  # noqa: F401 (the fixture)


def _users(*specs: tuple[str, str, list[str]]) -> None:
    c = build_container(get_settings(), migrate=True)
    try:
        for institution, primary_id, barcodes in specs:
            user = User(primary_id=primary_id, last_name="Lee", user_group="UNDERGRAD",
                        identifiers=[Identifier("BARCODE", b) for b in barcodes])
            c.users.create(institution, UserInput(user), "test")
    finally:
        c.close()


def test_switching_to_network_ids_reports_every_clash_and_changes_nothing(
    tmp_path: Path,
) -> None:
    for code in ("A", "B", "C"):
        assert run("institutions", "add", code, code)[0] == 0
    assert run("network", "id-scope", "institution")[0] == 0
    _users(("A", "ann", ["111"]), ("B", "ann", ["222"]), ("C", "bob", ["111"]),
           ("C", "cy", []))
    report = tmp_path / "clashes.csv"
    code, out = run("network", "id-scope", "network", "--report", str(report))
    assert code == 1
    assert "2 ID values" in out
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["value", "institution", "primary_id", "id_type"]
    assert sorted(rows[1:]) == [
        ["111", "A", "ann", "BARCODE"],
        ["111", "C", "bob", "BARCODE"],
        ["ann", "A", "ann", "primary_id"],
        ["ann", "B", "ann", "primary_id"],
    ]
    assert "institution" in run("institutions", "list")[1]  # the rule did not change
    # --check reports to standard output without changing anything either.
    code, out = run("network", "id-scope", "network", "--check")
    assert code == 1 and "111,C,bob,BARCODE" in out


def test_a_linked_copy_is_not_a_clash_in_either_mode() -> None:
    for code in ("A", "B"):
        run("institutions", "add", code, code)
    assert run("network", "id-scope", "institution")[0] == 0
    _users(("A", "ann", ["111"]))
    code, out = run("network", "partner-set", "B", "A", "--set", "user_group=GRAD")
    assert code == 0, out
    code, out = run("network", "link", "B", "A", "ann")
    assert code == 0, out
    code, out = run("network", "id-scope", "network")
    assert code == 0, out
    code, out = run("network", "id-scope", "institution")
    assert code == 0, out
    code, out = run("network", "id-scope", "network")
    assert code == 0, out
    assert "60227" not in out
    code, out = run("network", "link", "B", "A", "ann")
    assert code == 1 and "already exists" in out


def test_partner_commands_and_bad_input() -> None:
    run("institutions", "add", "A", "A")
    run("institutions", "add", "B", "B")
    assert run("network", "partner-set", "B", "A", "--set", "expiry=never")[0] == 2
    assert run("network", "partner-set", "B", "A", "--set", "nonsense")[0] == 2
    assert run("network", "partner-set", "B", "Z")[0] == 2  # no such institution
    code, out = run("network", "partner-set", "B", "A", "--set", "purge=after_expiry",
                    "--set", "purge_days=14", "--set", "search_password=pw-secret")
    assert code == 0, out
    assert "pw-secret" not in out and '"search_password_set": true' in out
    code, out = run("network", "partner-list", "B")
    assert code == 0 and "+14d" in out and "after_exp" in out
    assert run("network", "member-set", "A", "--searchable", "NOPE")[0] == 2
    assert run("network", "member-set", "A", "--searchable", "BARCODE")[0] == 0
    code, out = run("network", "process")
    assert code == 0 and "0 changes" in out and "pushes: 0 delivered" in out
    code, out = run("network", "process", "--no-pushes")
    assert code == 0 and "pushes" not in out
    assert run("network", "process", "--limit", "0")[0] == 2
    assert run("network", "process", "--limit", "many")[0] == 2
    assert run("network", "partner-remove", "B", "A")[0] == 0
    assert run("network", "partner-remove", "B", "A")[0] == 2
