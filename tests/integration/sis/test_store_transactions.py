"""The SIS store opens every transaction one way, through ``SqlSisStore.batch``: reads in a
read-only batch, writes in a batch that commits. On SQLite a read-only batch begins
DEFERRED, so a look at the runs or profiles never waits for the write lock that a run's
batch (or any other writer) holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from bookplate.sis.model import Mode, Profile, Report
from bookplate.storage import engine as engine_module
from bookplate.storage.engine import make_engine
from bookplate.storage.migrate import upgrade
from bookplate.storage.sis_repo import SqlSisStore


@pytest.fixture
def store(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlSisStore]:
    # No waiting for a lock: a read that needs the write lock fails at once.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 0)
    engine = make_engine(f"sqlite:///{tmp_path}/sis.db")
    upgrade(engine)
    try:
        yield SqlSisStore(engine)
    finally:
        engine.dispose()


def test_reads_do_not_wait_for_a_writer(store: SqlSisStore) -> None:
    store.put_profile(Profile(code="SIS", institution="MAIN"), create=True)
    run_id = store.start_run(Report(None, "SIS", "MAIN", Mode.SYNCHRONIZE, False, status="done"))
    with store.engine.connect() as writer:
        writer.execute(text("UPDATE sis_runs SET message = 'writing' WHERE id = :i"), {"i": run_id})
        # the writer holds the write lock (BEGIN IMMEDIATE) until it ends
        assert store.get_profile("MAIN", "SIS") is not None
        assert [p.code for p in store.list_profiles("MAIN")] == ["SIS"]
        report = store.get_run(run_id)
        assert report is not None and report.message == ""  # the committed state
        assert [r.run_id for r in store.list_runs("MAIN", None, 10)] == [run_id]
        assert store.run_ids({"done"}) == [run_id]
        assert store.run_items(run_id, None, 0, 10) == []
        assert store.profile_user_count("MAIN", "SIS") == 0
        writer.rollback()


def test_writes_are_committed_and_a_failed_one_leaves_nothing(store: SqlSisStore) -> None:
    profile = Profile(code="SIS", institution="MAIN", description="first")
    store.put_profile(profile, create=True)
    with pytest.raises(Exception, match="UNIQUE"):
        store.put_profile(profile, create=True)  # the same code again
    profile.description = "second"
    store.put_profile(profile, create=False)
    assert store.get_profile("MAIN", "SIS") == profile
    assert store.delete_profile("MAIN", "SIS") is True
    assert store.list_profiles(None) == []
