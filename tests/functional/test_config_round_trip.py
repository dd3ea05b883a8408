"""``config import`` -> ``config export`` round-trips Alma's configuration documents: code
tables with their descriptions, libraries with descriptions, circulation desks with names, the
user-group/record-type mapping table; JSON and XML, SQLite and PostgreSQL. Fixtures:
tests/fixtures/alma_conf_full (written from the shapes Alma's configuration API documents)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bookplate.alma import configuration as docs
from bookplate.cli.main import app
from bookplate.config import get_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alma_conf_full"
runner = CliRunner()
# Members of Alma's documents Bookplate does not keep (docs/operations.md); everything else
# must come back.
NOT_KEPT = {
    "code-tables": {"sub_system", "patron_facing", "language", "scope"},
    # resource_sharing is written, always false (Bookplate has no resource sharing)
    "libraries": {"campus", "proxy", "default_location"},
    "circ-desks": {"primary"},
    "mapping-tables": {"sub_system"},
}


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", database_url)
    monkeypatch.delenv("BOOKPLATE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _ordered(rows: list[Any], codes: list[str]) -> list[Any]:
    return [r for r in rows if r.code in codes]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_import_then_export_gives_back_the_documents(
    cli_db: str, tmp_path: Path, fmt: str
) -> None:
    source = FIXTURES / fmt
    assert run("institutions", "add", "DEMO", "Demo")[0] == 0
    code, out = run("config", "import", "DEMO", str(source))
    assert code == 0, out
    lines = out.splitlines()
    for expected in (
        "changed code table UserGroups description: UserGroups -> User groups of the institution",
        "added UserGroups RETIRED (Retired staff)",
        "added library MAIN (Central Library)",
        "added desk MAIN/RESERVES (Course reserves)",
        "added desk LAW/LAW_DESK (Law loans and returns)",
        "changed user group RETIRED record types: (none) -> PUBLIC, STAFF",
    ):
        assert expected in lines, (expected, out)
    again = run("config", "import", "DEMO", str(source))
    assert again == (0, "DEMO: nothing to change.\n")  # idempotent

    out_dir = tmp_path / "export"
    code, out = run("config", "export", "DEMO", str(out_dir), "--format", fmt)
    assert code == 0, out
    for name in ("UserGroups", "Genders"):
        want = docs.read_code_table_doc((source / "code-tables" / f"{name}.{fmt}").read_bytes())
        got = docs.read_code_table_doc((out_dir / "code-tables" / f"{name}.{fmt}").read_bytes())
        assert (got.name, got.description) == (want.name, want.description)
        codes = [r.code for r in want.rows]
        # codes, texts and flags; codes already there keep their place in the table
        assert set(_ordered(got.rows, codes)) == set(want.rows)
    libraries = docs.read_libraries((out_dir / f"libraries.{fmt}").read_bytes())
    assert libraries == sorted(docs.read_libraries((source / f"libraries.{fmt}").read_bytes()),
                               key=lambda lib: lib.code)
    for lib in ("MAIN", "LAW"):
        want_desks = docs.read_desks((source / "circ-desks" / f"{lib}.{fmt}").read_bytes())
        got_desks = docs.read_desks((out_dir / "circ-desks" / f"{lib}.{fmt}").read_bytes())
        assert got_desks == sorted(want_desks, key=lambda d: d.code)
    table = f"{docs.GROUP_MAP_TABLE}.{fmt}"
    want_map = set(docs.read_group_map((source / "mapping-tables" / table).read_bytes()))
    got_map = set(docs.read_group_map((out_dir / "mapping-tables" / table).read_bytes()))
    groups = {g for _, g in want_map}
    assert {p for p in got_map if p[1] in groups} == want_map

    # the export is itself an import that changes nothing
    assert run("config", "import", "DEMO", str(out_dir)) == (0, "DEMO: nothing to change.\n")


def _members(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {m for v in value.values() for m in _members(v)}
    if isinstance(value, list):
        return {m for v in value for m in _members(v)}
    return set()


def test_only_the_named_members_are_not_kept(cli_db: str, tmp_path: Path) -> None:
    source = FIXTURES / "json"
    assert run("institutions", "add", "DEMO", "Demo")[0] == 0
    assert run("config", "import", "DEMO", str(source))[0] == 0
    out_dir = tmp_path / "export"
    assert run("config", "export", "DEMO", str(out_dir))[0] == 0
    for path in sorted(source.rglob("*.json")):
        part = path.relative_to(source)
        kind = part.parts[0] if len(part.parts) > 1 else "libraries"
        want = _members(json.loads(path.read_text()))
        got = _members(json.loads((out_dir / part).read_text()))
        # "desc" of the members not kept goes with them; "link" is Bookplate's own URL
        inner = {"desc", "value", "institution_id", "library_id"}
        assert want - got - inner == NOT_KEPT[kind], part


def test_a_changed_file_reports_only_the_change(cli_db: str, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "conf"
    shutil.copytree(FIXTURES / "json", folder)
    assert run("institutions", "add", "DEMO", "Demo")[0] == 0
    assert run("config", "import", "DEMO", str(folder))[0] == 0
    desks = folder / "circ-desks" / "LAW.json"
    desks.write_text(desks.read_text().replace("Law loans and returns", "Law desk"))
    libs = folder / "libraries.json"
    libs.write_text(libs.read_text().replace("Main building, Library Square 1", "Moved"))
    code, out = run("config", "import", "DEMO", str(folder))
    assert code == 0, out
    assert sorted(out.splitlines()) == [
        "DEMO: 2 change(s).",
        "changed desk LAW/LAW_DESK name: Law loans and returns -> Law desk",
        "changed library MAIN description: Main building, Library Square 1 -> Moved",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "Other", "row": []}', "expected the mapping table UserRecordTypeUserGroup"),
        (b'{"name": "UserRecordTypeUserGroup", "row": [{"column0": "PUBLIC"}]}',
         "row 1: column1 (user group) is missing"),
        (b'{"name": "UserRecordTypeUserGroup", "row": [{"column0": "PUBLIC", "column1": "A"},'
         b' {"column0": "PUBLIC", "column1": "A"}]}', "appears twice"),
        (b"<mapping_table><name>UserRecordTypeUserGroup</name><rows><row><column0>"
         b"<![CDATA[x]]></column0></row></rows>", "not readable"),
    ],
)
def test_a_bad_mapping_table_exits_2_and_changes_nothing(
    cli_db: str, tmp_path: Path, content: bytes, message: str
) -> None:
    assert run("institutions", "add", "DEMO", "Demo")[0] == 0
    folder = tmp_path / "conf"
    (folder / "mapping-tables").mkdir(parents=True)
    (folder / "code-tables").mkdir()
    (folder / "code-tables" / "Genders.json").write_bytes(
        b'{"name": "Genders", "row": [{"code": "NEWONE", "description": "New"}]}'
    )
    (folder / "mapping-tables" / "UserRecordTypeUserGroup.json").write_bytes(content)
    code, out = run("config", "import", "DEMO", str(folder))
    assert code == 2, out
    assert message in out and len(out.strip().splitlines()) == 1
    assert "NEWONE" not in run("codes", "list", "DEMO", "Genders")[1]
