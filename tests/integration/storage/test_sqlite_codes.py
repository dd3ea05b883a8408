"""``storage/sqlite_codes.py`` (the code tables of ``bookplate codes …`` on the sqlite3 driver)
writes what the SQLAlchemy stores write: the same changes made through the audited service
on both, in two institutions of one SQLite file, leave the same code rows, user-group map and
history rows, and the history reads back the same through the SQLAlchemy repository. It is
used only where it can be: a plain SQLite file at the schema's head."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bookplate.bootstrap import Container, build_container, open_code_tables
from bookplate.bootstrap.light import EmbeddedCodeTables
from bookplate.config import Settings
from bookplate.errors import StorageUnavailable
from bookplate.roles.codes import CodeTablesAdmin, InvalidCode
from bookplate.storage.sqlite_codes import SqliteCodesUnit, database_file
from bookplate.users.ports import CodeRow


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "codes.db")


@pytest.fixture
def container(path: str) -> Iterator[Container]:
    c = build_container(Settings(database_url=f"sqlite:///{path}"), migrate=True)
    for code in ("ALCH", "RAW"):
        c.add_institution(code, code)
    yield c
    c.close()


def _changes(admin: CodeTablesAdmin, institution: str) -> None:
    admin.put_many(None, "cli", institution, "UserGroups", [
        CodeRow("G1", "Group one", True, False), CodeRow(" G2 ", " Group two ", False, False),
        CodeRow("G3", "Group three", True, True)])
    admin.put(None, "cli", institution, "UserGroups", CodeRow("G4", "Four", True, False),
              record_types=["PUBLIC", "CONTACT"])
    admin.put(None, "cli", institution, "UserGroups", CodeRow("G1", "One again", True, True))
    admin.put(None, "staff", institution, "Genders", CodeRow("X", "Other 'quoted' é", True, False))
    assert admin.remove(None, "cli", institution, "UserGroups", "G3")
    assert not admin.remove(None, "cli", institution, "UserGroups", "NONE")
    admin.set_group_types(None, "cli", institution, "G2", ["STAFF"])
    with pytest.raises(InvalidCode):  # a bad row changes nothing, on both
        admin.put_many(None, "cli", institution, "Genders", [
            CodeRow("Y", "Fine", True, False), CodeRow("bad code", "Spaces", True, False)])


def _rows(path: str, institution: str) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "codes": "SELECT table_name, code, description, enabled, is_default, position "
                 "FROM code_rows WHERE institution = ? ORDER BY table_name, code",
        "groups": "SELECT user_group, record_type FROM group_record_types "
                  "WHERE institution = ? ORDER BY user_group, record_type",
        "history": "SELECT actor, action, target, detail, typeof(at), length(at) "
                   "FROM audit_log WHERE institution = ? AND action LIKE 'codes.%' ORDER BY id",
    }
    with sqlite3.connect(path) as conn:
        return {k: conn.execute(q, (institution,)).fetchall() for k, q in queries.items()}


def test_both_stores_leave_the_same_rows(container: Container, path: str) -> None:
    raw = open_code_tables(f"sqlite:///{path}", Settings)
    assert isinstance(raw, EmbeddedCodeTables)  # the file is at the head: no SQLAlchemy
    _changes(container.code_tables, "ALCH")
    _changes(raw.code_tables, "RAW")
    alchemy, driver = _rows(path, "ALCH"), _rows(path, "RAW")
    assert alchemy == driver
    assert len(driver["history"]) == 8 and ("G1", "One again", 1, 1, 7) in [
        r[1:] for r in driver["codes"] if r[0] == "UserGroups"]
    with container.uow_factory() as uow:
        history = {i: uow.roles.history(i, "code:") for i in ("ALCH", "RAW")}
    assert [{**h, "at": type(h["at"])} for h in history["ALCH"]] == [
        {**h, "at": type(h["at"])} for h in history["RAW"]]
    assert all(h["at"].year >= 2026 for h in history["RAW"])
    with raw.uow_factory() as uow:  # the reads of the CLI
        assert uow.codes.table_names("RAW") == uow.codes.table_names("ALCH")
        assert uow.codes.rows("RAW", "UserGroups") == uow.codes.rows("ALCH", "UserGroups")
        assert uow.codes.allowed_groups("RAW") == uow.codes.allowed_groups("ALCH")
        assert uow.institutions.get("RAW") is not None and uow.institutions.get("NO") is None


def test_the_institutions_read_the_same(container: Container, path: str) -> None:
    from bookplate.network.model import IdScope
    from bookplate.storage import network_repo, sqlite_codes

    assert sqlite_codes.ID_SCOPE_KEY == network_repo.ID_SCOPE_KEY
    for scope in (None, IdScope.INSTITUTION, IdScope.NETWORK):
        if scope is not None:
            container.network.set_scope(scope, "test")
        with container.read_factory() as alchemy, SqliteCodesUnit(path, read_only=True) as driver:
            assert driver.institutions.list() == alchemy.institutions.list()
            assert driver.institutions.id_scope() == alchemy.institutions.id_scope()
            assert driver.institutions.id_scope() == (scope or IdScope.NETWORK)


def test_only_a_plain_file_at_the_head_is_served_without_sqlalchemy(
    container: Container, path: str, tmp_path: Path
) -> None:
    assert database_file(f"sqlite:///{path}") == path
    assert database_file(f"sqlite+pysqlite:///{path}") == path
    for other in (f"sqlite:///{tmp_path}/absent.db", "sqlite://", "sqlite:///:memory:",
                  f"sqlite:///{path}?mode=ro", "postgresql+psycopg://u@h/db", f"{path}"):
        assert database_file(other) is None, other
    (tmp_path / "text.db").write_text("not a database")
    assert database_file(f"sqlite:///{tmp_path}/text.db") is None
    empty = tmp_path / "empty.db"  # a database without the schema: SQLAlchemy's stores,
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()  # which migrate
    assert database_file(f"sqlite:///{empty}") is None
    opened = open_code_tables(f"sqlite:///{empty}", Settings)
    assert isinstance(opened, Container)
    opened.close()
    assert database_file(f"sqlite:///{empty}") == str(empty)


def test_nothing_uncommitted_is_kept_and_a_failed_write_is_storage_unavailable(
    container: Container, path: str
) -> None:
    unit: Callable[[], SqliteCodesUnit] = lambda: SqliteCodesUnit(path)  # noqa: E731
    with unit() as uow:
        uow.codes.put_row("RAW", "Genders", CodeRow("GONE", "Not committed", True, False))
    with unit() as uow:
        assert "GONE" not in {r.code for r in uow.codes.rows("RAW", "Genders")}
        uow.codes.put_row("RAW", "Genders", CodeRow("KEPT", "Committed", True, False))
        uow.commit()
    with unit() as uow:
        assert "KEPT" in {r.code for r in uow.codes.rows("RAW", "Genders")}
    with pytest.raises(StorageUnavailable), unit() as uow:  # as on a read-only file
        uow.connection.execute("PRAGMA query_only = 1")
        uow.codes.put_row("RAW", "Genders", CodeRow("NO", "Read-only", True, False))
    with unit() as uow:
        assert "NO" not in {r.code for r in uow.codes.rows("RAW", "Genders")}
