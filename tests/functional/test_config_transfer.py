"""``bookplate config import|export`` and ``GET /almaws/v1/conf`` code-table list, libraries
and circulation desks, on SQLite and PostgreSQL (fixtures: tests/fixtures/alma_config, written
from the shapes Alma's configuration API documents)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from bookplate.alma import configuration as docs
from bookplate.cli.main import app
from bookplate.config import get_settings
from tests.functional.conftest import Api
from tests.functional.test_users_api import error_code

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alma_config"
runner = CliRunner()


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


def codes(institution: str, table: str) -> str:
    code, out = run("codes", "list", institution, table)
    assert code == 0, out
    return out


def test_import_reports_each_change_dry_run_writes_nothing_and_rerun_is_idempotent(
    cli_db: str,
) -> None:
    assert run("institutions", "add", "LIB", "A library")[0] == 0
    code, out = run("config", "import", "LIB", str(FIXTURES), "--dry-run")
    assert code == 0, out
    assert "would be added UserGroups RETIRED (Retired staff member)" in out
    assert "dry run" in out
    assert "RETIRED" not in codes("LIB", "UserGroups")
    assert run("libraries", "list", "LIB")[1].count("MAIN") == 0

    code, out = run("config", "import", "LIB", str(FIXTURES))
    assert code == 0, out
    lines = out.splitlines()
    assert "added UserGroups RETIRED (Retired staff member)" in lines
    assert "changed UserGroups UNDERGRAD (Undergraduate student)" in lines
    assert "added Genders NONBINARY (Non-binary)" in lines
    assert "changed Genders FEMALE (Woman)" in lines
    assert "skipped code table ItemPolicies: Bookplate does not use it" in lines
    assert "added library LAW (Law Faculty Library)" in lines
    assert "added desk MAIN/RESERVE" in lines
    assert "added desk LAW/LAW_DESK" in lines
    assert "RETIRED" in codes("LIB", "UserGroups")
    # codes the files do not name are kept
    assert "FACULTY" in codes("LIB", "UserGroups")

    code, out = run("config", "import", "LIB", str(FIXTURES))
    assert code == 0, out
    assert out.splitlines() == [
        "skipped code table ItemPolicies: Bookplate does not use it",
        "LIB: nothing to change.",
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_import_export_round_trip(cli_db: str, tmp_path: Path, fmt: str) -> None:
    for inst in ("ONE", "TWO"):
        assert run("institutions", "add", inst, inst)[0] == 0
    assert run("config", "import", "ONE", str(FIXTURES))[0] == 0
    first = tmp_path / "one"
    code, out = run("config", "export", "ONE", str(first), "--format", fmt)
    assert code == 0, out

    # the export carries what the fixtures say, in Alma's shapes
    _, groups = docs.read_code_table((first / "code-tables" / f"UserGroups.{fmt}").read_bytes())
    _, wanted = docs.read_code_table((FIXTURES / "code-tables" / "UserGroups.json").read_bytes())
    assert [g for g in groups if g.code in {w.code for w in wanted}] == wanted
    _, genders = docs.read_code_table((first / "code-tables" / f"Genders.{fmt}").read_bytes())
    _, wanted = docs.read_code_table((FIXTURES / "code-tables" / "Genders.xml").read_bytes())
    assert [g for g in genders if g.code in {w.code for w in wanted}] == wanted
    libraries = docs.read_libraries((first / f"libraries.{fmt}").read_bytes())
    assert {(lib.code, lib.name) for lib in libraries} >= {
        ("MAIN", "Central Library"),
        ("LAW", "Law Faculty Library"),
    }
    desks = docs.read_desks((first / "circ-desks" / f"MAIN.{fmt}").read_bytes())
    assert [d.code for d in desks] == ["FRONT", "RESERVE"]

    # importing the export elsewhere and exporting again gives the same files, byte for byte
    code, out = run("config", "import", "TWO", str(first))
    assert code == 0, out
    second = tmp_path / "two"
    assert run("config", "export", "TWO", str(second), "--format", fmt)[0] == 0
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert run("config", "import", "ONE", str(first))[1].splitlines() == ["ONE: nothing to change."]


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        (
            "code-tables/UserGroups.json",
            b'{"name": "UserGroups", "row": [{"description": "x"}]}',
            "code-tables/UserGroups.json: row 1: code is missing",
        ),
        (
            "code-tables/UserGroups.json",
            b'{"name": "UserGroups", "row": [{"code": "A"}, {"code": "A"}]}',
            "code A appears twice",
        ),
        ("code-tables/UserGroups.xml", b"<code_table><name>UserGroups", "not readable"),
        (
            "code-tables/UserGroups.json",
            b'{"name": "UserGroups", "row": [{"code": "A", "enabled": "maybe"}]}',
            "enabled must be true or false",
        ),
        ("libraries.json", b'{"library": [{"code": "X"}]}', "library X: name is missing"),
        ("libraries.xml", b"<users/>", "expected <libraries>, found <users>"),
        ("circ-desks/NOPE.json", b'{"circ_desk": [{"code": "D"}]}', "no library NOPE"),
        ("code-tables/UserGroups.json", b"plain words", "neither JSON nor XML"),
    ],
)
def test_bad_files_exit_2_with_one_line_and_change_nothing(
    cli_db: str, tmp_path: Path, path: str, content: bytes, message: str
) -> None:
    assert run("institutions", "add", "LIB", "A library")[0] == 0
    folder = tmp_path / "conf"
    (folder / "code-tables").mkdir(parents=True)
    (folder / "circ-desks").mkdir()
    (folder / "code-tables" / "Genders.json").write_bytes(
        b'{"name": "Genders", "row": [{"code": "NEWONE", "description": "New"}]}'
    )
    (folder / path).write_bytes(content)
    code, out = run("config", "import", "LIB", str(folder))
    assert code == 2, out
    assert message in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
    assert "NEWONE" not in codes("LIB", "Genders")


def test_import_of_an_empty_folder_or_unknown_institution(cli_db: str, tmp_path: Path) -> None:
    code, out = run("config", "import", "LIB", str(tmp_path))
    assert code == 2
    assert "holds no code-tables/" in out
    code, out = run("config", "import", "NOPE", str(FIXTURES))
    assert code == 1
    assert "no institution NOPE" in out


def _load(api: Api) -> None:
    from bookplate.roles.model import Library

    api.container.roles.put_library("MAIN", Library("LAW", "Law Library", frozenset({"D1"})), "t")
    api.container.roles.put_library("OTHER", Library("SECRET", "Other's", frozenset()), "t")


def test_code_table_list_json_and_xml(api: Api) -> None:
    r = api.client.get("/almaws/v1/conf/code-tables", headers=api.h(api.conf_key))
    assert r.status_code == 200
    body = r.json()
    names = [t["name"] for t in body["code_table"]]
    assert {"UserGroups", "Genders", "CountryCodes"} <= set(names)
    assert body["total_record_count"] == len(names)
    assert body["code_table"][0]["link"].endswith(f"/almaws/v1/conf/code-tables/{names[0]}")
    xml = api.client.get("/almaws/v1/conf/code-tables", headers=api.h(api.conf_key, json=False))
    root = etree.fromstring(xml.content)
    assert root.tag == "code_tables"
    assert [e.text for e in root.findall("code_table/name")] == names
    users_only = api.client.get("/almaws/v1/conf/code-tables", headers=api.h(api.ro_key))
    assert error_code(users_only) == "UNAUTHORIZED"


def test_libraries_and_circ_desks_json_and_xml(api: Api) -> None:
    _load(api)
    r = api.client.get("/almaws/v1/conf/libraries", headers=api.h(api.conf_key))
    assert r.status_code == 200
    libs = {lib["code"]: lib for lib in r.json()["library"]}
    assert libs["LAW"]["name"] == "Law Library"
    assert "SECRET" not in libs
    xml = api.client.get("/almaws/v1/conf/libraries", headers=api.h(api.conf_key, json=False))
    assert "LAW" in [e.text for e in etree.fromstring(xml.content).findall("library/code")]

    desks = api.client.get("/almaws/v1/conf/libraries/LAW/circ-desks", headers=api.h(api.conf_key))
    assert desks.status_code == 200
    assert desks.json()["total_record_count"] == 1
    assert desks.json()["circ_desk"][0]["code"] == "D1"
    xml = api.client.get(
        "/almaws/v1/conf/libraries/LAW/circ-desks", headers=api.h(api.conf_key, json=False)
    )
    root = etree.fromstring(xml.content)
    assert root.tag == "circ_desks"
    assert root.get("total_record_count") == "1"
    assert root.findtext("circ_desk/code") == "D1"


@pytest.mark.parametrize("code", ["SECRET", "NOPE"])
def test_circ_desks_of_an_unknown_library_answer_an_alma_error(api: Api, code: str) -> None:
    _load(api)
    for json in (True, False):
        r = api.client.get(
            f"/almaws/v1/conf/libraries/{code}/circ-desks", headers=api.h(api.conf_key, json=json)
        )
        assert r.status_code == 400
        assert error_code(r) == "40166410"
        assert code in r.text
