"""A batch whose first statement is a COPY (sent on the driver connection, past SQLAlchemy)
still commits it: the batch's transaction is opened before the COPY."""

from __future__ import annotations

from bookplate.bootstrap import Container
from bookplate.sis.model import Mode, Report
from bookplate.sis.ports import ItemRow
from bookplate.storage.sis_repo import SqlSisStore


def test_items_copied_first_in_a_batch_are_committed(c: Container) -> None:
    store = SqlSisStore(c.engine)
    run_id = store.start_run(
        Report(run_id=None, profile="SIS", institution="MAIN", mode=Mode.SYNCHRONIZE, dry_run=False)
    )
    rows = [ItemRow(seq, "create", seq, f"m{seq}", f"p{seq}", None) for seq in range(1, 4)]
    with store.batch() as batch:
        batch.add_items(run_id, rows)  # nothing else sent in this batch before the COPY
        batch.commit()
    stored = store.run_items(run_id, None, 0, 10)
    assert [(r.seq, r.match_id) for r in stored] == [(1, "m1"), (2, "m2"), (3, "m3")]


def test_items_of_a_batch_rolled_back_are_gone(c: Container) -> None:
    store = SqlSisStore(c.engine)
    run_id = store.start_run(
        Report(run_id=None, profile="SIS", institution="MAIN", mode=Mode.SYNCHRONIZE, dry_run=False)
    )
    with store.batch() as batch:
        batch.add_items(run_id, [ItemRow(1, "create", 1, "m1", "p1", None)])
        batch.rollback()
    assert store.run_items(run_id, None, 0, 10) == []
