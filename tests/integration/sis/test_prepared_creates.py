"""New users' rows built ahead of their write (``SqlSisBatch.prepare``, used by the planning
thread on PostgreSQL): used only for the very user objects they were built from; a clash met
by the COPY is a DuplicateId (the record is rejected, the run goes on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bookplate.bootstrap import Container
from bookplate.storage import tables as t
from bookplate.storage.sis_batch import SqlSisBatch
from bookplate.users.errors import DuplicateId

from ..storage.builders import make_user
from .helpers import user_xml, users_doc, write_zip


def _stored(c: Container) -> dict[str, int]:
    with c.engine.connect() as conn:
        rows = conn.execute(select(t.users.c.primary_id, t.users.c.id))
        return {primary_id: pk for primary_id, pk in rows}


def test_prepared_rows_are_written_for_the_same_users(c: Container) -> None:
    a, b = make_user("p1", identifiers=[("BARCODE", "P1")]), make_user("p2")
    with c.sis.store.batch() as batch:
        prepared = batch.prepare([a, b])
        assert batch.create([(a, "f1"), (b, "f2")], prepared) == prepared.pks  # type: ignore[union-attr]
        batch.commit()
    assert _stored(c) == {"p1": prepared.pks[0], "p2": prepared.pks[1]}  # type: ignore[union-attr]
    assert c.users.get("MAIN", "P1").primary_id == "p1"


def test_prepared_rows_of_other_user_objects_are_not_used(c: Container) -> None:
    a = make_user("p1")
    with c.sis.store.batch() as batch:
        prepared = batch.prepare([a])
        other = make_user("p9")  # e.g. the batch was planned again
        pks = batch.create([(other, "f")], prepared)
        batch.commit()
    assert _stored(c) == {"p9": pks[0]}  # p9's own rows, not p1's


def test_a_clash_met_by_the_write_is_a_duplicate_id(c: Container) -> None:
    with c.sis.store.batch() as batch:
        batch.create([(make_user("p1", identifiers=[("BARCODE", "X1")]), "f")])
        batch.commit()
    taker = make_user("p2", identifiers=[("BARCODE", "x1")])
    with c.sis.store.batch() as batch:
        prepared = batch.prepare([taker])
        with pytest.raises(DuplicateId), batch.savepoint():
            batch.create([(taker, "f")], prepared)
    assert set(_stored(c)) == {"p1"}


def test_a_run_rejects_a_record_whose_id_was_taken_after_its_plan(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """The batch's ID check found X1 free; another writer takes it before the batch's COPY:
    that record is rejected with the reason, the others of the batch are written."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: nobody can take the ID meanwhile")
    original = SqlSisBatch.create
    taken = []

    def create_after_a_rival(self, users, prepared=None):  # type: ignore[no-untyped-def]
        if not taken:
            taken.append(1)
            with c.sis.store.batch() as rival:
                rival.create([(make_user("rival", identifiers=[("BARCODE", "X1")]), "f")])
                rival.commit()
        return original(self, users, prepared)

    monkeypatch.setattr(SqlSisBatch, "create", create_after_a_rival)
    f = write_zip(
        tmp_path / "a.zip",
        {"users.xml": users_doc(user_xml("u1", barcode="X1"), user_xml("u2", barcode="X2"))},
    )
    report = c.sis.run("MAIN", "SIS", f)
    assert report.status == "done", report.message
    assert (report.counts["create"], report.counts["reject"]) == (1, 1)
    assert set(_stored(c)) == {"rival", "u2"}
