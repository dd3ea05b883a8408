"""Every ``bookplate`` command and parameter has help; tables and help fit 80 columns; bad
input on the commands' flags ends with exit 2 and one line (SQLite file per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from bookplate.cli.main import app
from bookplate.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/help.db"
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", url)
    monkeypatch.delenv("BOOKPLATE_REDIS_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``command``; the root's groups are loaded on the way (the root
    lists them without importing them, cli/tree.py)."""
    yield path, command
    for name in command.list_commands(None) if hasattr(command, "list_commands") else []:
        yield from _walk(command.get_command(None, name), (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


def test_the_walk_sees_the_whole_tree() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"codes set", "keys list", "sis profile update", "auth ldap add"} <= names
    assert len(COMMANDS) > 80


def test_the_root_lists_each_group_with_the_start_of_its_own_help() -> None:
    from bookplate.cli.tree import GROUPS, load

    for name, lazy in GROUPS.items():
        loaded = load(name)
        assert " ".join((loaded.help or "").split()).startswith(lazy.help), name
        assert not {p.name for p in loaded.params} & {"install_completion", "show_completion"}


def test_every_command_and_parameter_has_help() -> None:
    missing = []
    for path, command in COMMANDS:
        if not (command.help or "").strip():
            missing.append(" ".join(path) or "bookplate")
        for param in command.params:
            if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert missing == []


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "root")
def test_help_answers_and_fits_80_columns(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    wide = [line for line in result.output.splitlines() if len(line) > 80]
    assert wide == []


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.output


def _fits(out: str, *values: str) -> None:
    lines = out.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    columns: dict[int, str] = {}  # each column's text, read down the table
    for line in lines:
        if "│" in line:
            for i, cell in enumerate(line.split("│")[1:-1]):
                columns[i] = columns.get(i, "") + "".join(cell.split())
    for value in values:  # folded onto more lines, never cut off
        assert any("".join(value.split()) in text for text in columns.values()), value


def test_list_tables_fit_80_columns_with_long_values() -> None:
    long_name = "The Long Institution Name " * 6
    assert run("institutions", "add", "LONG", long_name)[0] == 0
    _fits(run("institutions", "list")[1], long_name)
    description = "A description far longer than the table's column " * 5
    assert run("codes", "set", "LONG", "UserGroups", "LONGCODE_" + "X" * 40, description)[0] == 0
    code, out = run("codes", "list", "LONG", "UserGroups")
    assert code == 0
    _fits(out, "LONGCODE_" + "X" * 40, description)
    code, out = run("keys", "create", "--institution", "LONG", "--area", "users:rw",
                    "--area", "conf:ro", "--name", "a-key-with-a-long-name-" * 4)
    assert code == 0, out
    key_id = out.split()[2]
    code, out = run("keys", "list")
    assert code == 0
    _fits(out, key_id, "a-key-with-a-long-name-" * 4, "users:rw")
    _fits(run("codes", "tables", "LONG")[1], "UserGroups")


def test_roles_libraries_and_network_tables_fit_80_columns() -> None:
    assert run("institutions", "add", "LONG", "Long")[0] == 0
    assert run("institutions", "add", "PARTNER_INSTITUTION_WITH_A_LONG_CODE", "P")[0] == 0
    desks = [f"DESK_NUMBER_{n}_OF_THE_LIBRARY" for n in range(4)]
    code, out = run("libraries", "set", "LONG", "MAIN_LIBRARY_OF_THE_CAMPUS",
                    "The main library of the campus, by the river " * 3,
                    *(x for d in desks for x in ("--desk", d)))
    assert code == 0, out
    _fits(run("libraries", "list", "LONG")[1], "MAIN_LIBRARY_OF_THE_CAMPUS", *desks)
    code, out = run("roles", "profile-set", "LONG", "PROFILE_WITH_A_LONG_CODE",
                    "A profile name far longer than its column " * 3, "--role", "21",
                    "--role", "32@MAIN_LIBRARY_OF_THE_CAMPUS#CirculationDesk:"
                    "MAIN_LIBRARY_OF_THE_CAMPUS:DESK_NUMBER_1_OF_THE_LIBRARY")
    assert code == 0, out
    _fits(run("roles", "profiles", "LONG")[1], "PROFILE_WITH_A_LONG_CODE",
          "32@MAIN_LIBRARY_OF_THE_CAMPUS")
    code, out = run("roles", "rule-set", "LONG", "RULE_WITH_A_LONG_IDENTIFIER",
                    "PROFILE_WITH_A_LONG_CODE", "--job-category", "CIRCULATION_ASSISTANT",
                    "--user-group", "STAFF", "--record-type", "STAFF", "--campus",
                    "NORTH_CAMPUS_BY_THE_RIVER")
    assert code == 0, out
    _fits(run("roles", "rules", "LONG")[1], "RULE_WITH_A_LONG_IDENTIFIER",
          "CIRCULATION_ASSISTANT", "NORTH_CAMPUS_BY_THE_RIVER")
    _fits(run("roles", "history", "LONG")[1], "roles.rule.put", "roles.profile.put")
    code, out = run("network", "partner-set", "LONG", "PARTNER_INSTITUTION_WITH_A_LONG_CODE",
                    "--set", "user_group=STAFF")
    assert code == 0, out
    _fits(run("network", "partner-list", "LONG")[1], "PARTNER_INSTITUTION_WITH_A_LONG_CODE",
          "this deployment")


def _one_line_error(code: int, out: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), out


@pytest.mark.parametrize(
    "args",
    [
        ["codes", "list", "NOPE", "UserGroups"],
        ["codes", "list", "MAIN", "NoSuchTable"],
        ["codes", "tables", "NOPE"],
        ["codes", "standard", "NOPE"],
        ["codes", "set", "NOPE", "UserGroups", "A", "B"],
        ["codes", "set", "MAIN", "NoSuchTable", "A", "B"],
        ["codes", "set", "MAIN", "UserGroups", "A"],
        ["codes", "set", "MAIN", "UserGroups"],
        ["codes", "set", "MAIN", "UserGroups", "X" * 100_000, "huge"],
        ["codes", "set", "MAIN", "UserGroups", "OK", "d" * 100_000],
        ["codes", "set", "MAIN", "UserGroups", "NUL\x00", "nul"],
        ["codes", "set", "MAIN", "UserGroups", "NUL", "nul\x00"],
        ["codes", "set", "MAIN", "UserGroups", "A", "one", "A", "twice"],
        ["codes", "set", "MAIN", "UserGroups", "A", "x", "--disabled", "--default"],
        ["codes", "set", "MAIN\x00", "UserGroups", "A", "B"],
        ["codes", "remove", "MAIN", "NoSuchTable", "A"],
        ["codes", "group", "MAIN", "NOGROUP", "--record-type", "PUBLIC"],
        ["codes", "group", "MAIN", "STAFF", "--record-type", "ROBOT"],
        ["codes", "group", "NOPE", "STAFF", "--record-type", "PUBLIC"],
        ["keys", "create", "--institution", "NOPE", "--area", "users:ro"],
        ["keys", "create", "--institution", "MAIN", "--area", "bananas:rw"],
        ["keys", "create", "--institution", "MAIN", "--area", "users:ro", "--name", "n" * 5000],
        ["keys", "list", "--institution", "M\x00"],
        ["institutions", "add", "A B", "Spaces in the code"],
        ["institutions", "add", "X" * 1000, "Huge code"],
        ["institutions", "add", "NUL\x00", "NUL in the code"],
        ["institutions", "add", "OK2", ""],
    ],
    ids=lambda a: " ".join(a)[:60].replace("\x00", "NUL"),
)
def test_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    _one_line_error(*run(*args))
    # nothing was half-written: the table holds only what the institution started with
    assert "twice" not in run("codes", "list", "MAIN", "UserGroups")[1]


@pytest.mark.parametrize(
    "content",
    [
        b"A,one\nB\n",  # a row of one cell
        b"A,one\nB,two,maybe\n",  # a flag that is neither true nor false
        b"A,one\x00\n",  # NUL
        b"\xff\xfe\x00A",  # not UTF-8
        b"A,one,yes,no,extra\n",  # too many cells
        b"A,one\nA,again\n",  # the same code twice
        b'A,"unterminated\n',  # a quote left open
    ],
)
def test_bad_code_files_change_nothing(tmp_path: Path, content: bytes) -> None:
    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    before = run("codes", "list", "MAIN", "UserGroups")[1]
    path = tmp_path / "codes.csv"
    path.write_bytes(content)
    _one_line_error(*run("codes", "set", "MAIN", "UserGroups", "--file", str(path)))
    assert run("codes", "list", "MAIN", "UserGroups")[1] == before


def test_a_huge_code_file_is_refused_unread(tmp_path: Path) -> None:
    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)  # sparse: six MiB without writing them
    _one_line_error(*run("codes", "set", "MAIN", "UserGroups", "--file", str(path)))


def test_a_missing_or_folder_file_is_a_usage_error(tmp_path: Path) -> None:
    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    for bad in (tmp_path / "absent.csv", tmp_path):
        code, out = run("codes", "set", "MAIN", "UserGroups", "--file", str(bad))
        assert code == 2 and "Traceback" not in out


def test_codes_set_from_a_file_writes_one_history_row_per_code(
    tmp_path: Path, database: str
) -> None:
    import sqlalchemy as sa

    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    path = tmp_path / "codes.csv"
    path.write_text("G1,Group one\nG2,Group two,no\nG3,Group three,yes,yes\n", encoding="utf-8")
    code, out = run("codes", "set", "MAIN", "UserGroups", "--file", str(path))
    assert code == 0, out
    listed = run("codes", "list", "MAIN", "UserGroups")[1]
    assert "Group three" in listed and "Group two" in listed
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT actor, action, target FROM audit_log WHERE action = 'codes.set' "
            "ORDER BY target"
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("cli", "codes.set", f"code:UserGroups:{c}") for c in ("G1", "G2", "G3")
    ]


def test_the_cli_writes_the_code_changes_and_history_rows_the_pages_service_writes(
    tmp_path: Path, database: str
) -> None:
    """``codes set`` and ``codes remove`` (on the container that builds services on first
    use) leave the same code rows and history rows (actor, action, target, detail) as the
    same changes made through the full container's ``code_tables`` service."""
    import sqlalchemy as sa

    from bookplate.bootstrap import build_container
    from bookplate.config import Settings
    from bookplate.users.ports import CodeRow

    assert run("institutions", "add", "MAIN", "Main")[0] == 0
    assert run("institutions", "add", "SAME", "Same")[0] == 0
    path = tmp_path / "codes.csv"
    path.write_text("G1,Group one\nG2,Group two,no\nG3,Group three,yes,yes\n", encoding="utf-8")
    assert run("codes", "set", "MAIN", "UserGroups", "--file", str(path))[0] == 0
    assert run("codes", "set", "MAIN", "Genders", "X1", "Other", "X2", "Two")[0] == 0
    assert run("codes", "remove", "MAIN", "UserGroups", "G2")[0] == 0
    c = build_container(Settings(database_url=database))
    try:
        c.code_tables.put_many(None, "cli", "SAME", "UserGroups", [
            CodeRow("G1", "Group one", True, False), CodeRow("G2", "Group two", False, False),
            CodeRow("G3", "Group three", True, True)])
        c.code_tables.put_many(None, "cli", "SAME", "Genders", [
            CodeRow("X1", "Other", True, False), CodeRow("X2", "Two", True, False)])
        c.code_tables.remove(None, "cli", "SAME", "UserGroups", "G2")
    finally:
        c.close()
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        def rows(sql: str, institution: str) -> list[tuple[object, ...]]:
            return [tuple(r) for r in conn.exec_driver_sql(sql, (institution,)).all()]

        history = ("SELECT actor, action, target, detail FROM audit_log "
                   "WHERE institution = ? AND action LIKE 'codes.%' ORDER BY id")
        codes = ("SELECT table_name, code, description, enabled, is_default, position "
                 "FROM code_rows WHERE institution = ? ORDER BY table_name, code")
        cli_history, service_history = rows(history, "MAIN"), rows(history, "SAME")
        cli_codes, service_codes = rows(codes, "MAIN"), rows(codes, "SAME")
    engine.dispose()
    assert len(cli_history) == 6 and cli_history == service_history
    assert cli_codes == service_codes and ("UserGroups", "G3", "Group three", 1, 1) in [
        r[:5] for r in cli_codes]


def test_a_dot_env_file_in_the_working_folder_still_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code-table commands read the database URL without the settings, except when a
    ``.env`` file may set it: then it is read from there, as every other command does."""
    elsewhere = tmp_path / "dotenv"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("BOOKPLATE_DATABASE_URL")
    (elsewhere / ".env").write_text(f"BOOKPLATE_DATABASE_URL=sqlite:///{elsewhere}/dot.db\n")
    get_settings.cache_clear()
    assert run("institutions", "add", "DOT", "Dot")[0] == 0
    code, out = run("codes", "list", "DOT", "UserGroups")
    assert code == 0 and "UNDERGRAD" in out
    assert (elsewhere / "dot.db").exists()
