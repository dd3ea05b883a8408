"""Side rows without foreign keys (migration 0008): removing a user removes every row that
names it, including the SIS fingerprint; a replace of a user removed meanwhile writes none."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bookplate.bootstrap import Container
from bookplate.storage import tables as t
from bookplate.storage.integrity import SIDE_TABLES, orphan_side_rows
from bookplate.storage.sis_batch import SqlSisBatch
from bookplate.storage.users_repo import SqlUserRepository
from bookplate.users.errors import UserNotFound

from .helpers import user_xml, users_doc, write_zip


def _rows_of(c: Container, pk: int) -> dict[str, int]:
    with c.engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.user_pk == pk)
            ).scalar_one()
            for table in SIDE_TABLES
        }


def _pk(c: Container, primary_id: str) -> int:
    with c.engine.connect() as conn:
        query = select(t.users.c.id).where(t.users.c.primary_id == primary_id)
        return int(conn.execute(query).scalar_one())


def test_removing_a_synchronised_user_removes_all_its_side_rows(
    c: Container, tmp_path: Path
) -> None:
    f = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("u1", barcode="B1"))})
    assert c.sis.run("MAIN", "SIS", f).counts["create"] == 1
    pk = _pk(c, "u1")
    before = _rows_of(c, pk)
    assert all(before[name] > 0 for name in before), before  # fingerprint included
    c.users.delete("MAIN", "u1")
    assert _rows_of(c, pk) == dict.fromkeys(before, 0)
    with c.engine.connect() as conn:
        assert orphan_side_rows(conn) == {}
    # The IDs are free again.
    again = write_zip(tmp_path / "v.zip", {"users.xml": users_doc(user_xml("u2", barcode="B1"))})
    assert c.sis.run("MAIN", "SIS", again).counts["create"] == 1


def test_replace_of_a_user_removed_meanwhile_writes_no_side_rows(
    c: Container, tmp_path: Path
) -> None:
    f = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("u1", barcode="B1"))})
    c.sis.run("MAIN", "SIS", f)
    user = c.users.get("MAIN", "u1")
    pk = _pk(c, "u1")
    with c.engine.begin() as conn:
        repo = SqlUserRepository(conn)
        # Another transaction removed the user (as ``remove`` does) after this one found it.
        for table in SIDE_TABLES:
            conn.execute(table.delete().where(table.c.user_pk == pk))
        conn.execute(t.users.delete().where(t.users.c.id == pk))
        repo._pk = lambda institution, primary_id: pk  # type: ignore[method-assign]
        with pytest.raises(UserNotFound):
            repo.replace("u1", user, None)
        assert orphan_side_rows(conn) == {}


def test_a_user_removed_while_a_run_updates_it_is_rejected_without_side_rows(
    c: Container, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff remove u1 after the run planned its update, before the batch writes it: u1's
    record is rejected with the reason, u2 is updated, no row is left for u1 (``c`` checks
    the whole database for rows without their user afterwards)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: nobody can remove the user meanwhile")
    first = users_doc(user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2"))
    c.sis.run("MAIN", "SIS", write_zip(tmp_path / "a.zip", {"users.xml": first}))
    pk = _pk(c, "u1")
    original = SqlSisBatch.update
    removed: list[int] = []

    def update_after_removal(self, users, *args):  # type: ignore[no-untyped-def]
        if not removed:
            removed.append(1)
            c.users.delete("MAIN", "u1")  # its own transaction, committed
        return original(self, users, *args)

    monkeypatch.setattr(SqlSisBatch, "update", update_after_removal)
    second = users_doc(
        user_xml("u1", last="Park", barcode="B1"), user_xml("u2", last="Park", barcode="B2")
    )
    report = c.sis.run("MAIN", "SIS", write_zip(tmp_path / "b.zip", {"users.xml": second}))
    assert report.status == "done", report.message
    assert (report.counts["update"], report.counts["reject"]) == (1, 1)
    reject = next(i for i in c.sis.items(report.run_id or 0) if i.kind == "reject")
    assert reject.match_id == "u1" and "removed while the run" in (reject.detail or "")
    assert c.users.get("MAIN", "u2").last_name == "Park"
    assert _rows_of(c, pk) == dict.fromkeys(_rows_of(c, pk), 0)
