"""A run keeps the garbage collector's automatic runs off while records stream through,
collects itself every so many records, and turns the collector back on afterwards (also
when the run fails, and only when it was on before)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis import collector
from bookplate.sis.apply import Runner

from .helpers import user_xml, users_doc, write_zip


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


def test_the_collector_is_off_during_the_run_and_on_again_after(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    seen: list[bool] = []
    original = Runner._main_pass

    def watched(self: Runner) -> None:
        seen.append(gc.isenabled())
        original(self)

    monkeypatch.setattr(Runner, "_main_pass", watched)
    f = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(user_xml("u1"))})
    assert c.sis.run("MAIN", "SIS", f).counts["create"] == 1
    assert seen == [False]
    assert gc.isenabled()

    def failing(self: Runner) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Runner, "_main_pass", failing)
    with pytest.raises(RuntimeError):
        c.sis.run("MAIN", "SIS", f)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(c: Container, tmp_path: Path) -> None:
    was_on = gc.isenabled()
    gc.disable()
    try:
        f = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(user_xml("u1"))})
        assert c.sis.run("MAIN", "SIS", f).counts["create"] == 1
        assert not gc.isenabled()
    finally:
        if was_on:
            gc.enable()


def test_the_run_collects_every_so_many_records(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected: list[bool] = []
    real = gc.collect

    def spy(generation: int = 2) -> int:
        collected.append(gc.isenabled())
        return real(generation)

    monkeypatch.setattr(collector, "COLLECT_EVERY", 4)
    monkeypatch.setattr(collector.gc, "collect", spy)
    users = [user_xml(f"u{i}") for i in range(10)]
    f = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(*users)})
    report = c.sis.run("MAIN", "SIS", f, batch_size=2)
    assert report.counts["create"] == 10
    # batches of 2: once 4 records came in (with the second batch) and 8 (with the fourth)
    assert collected == [False, False]


def test_runs_that_overlap_turn_the_collector_on_when_the_last_ends(collector_on: None) -> None:
    """Two runs going at once in one process (a worker with several jobs): the first to end
    leaves the collector off for the other; the last turns it on again."""
    first, second = collector.fewer_collections(), collector.fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second run is still going
    second.__exit__(None, None, None)
    assert gc.isenabled()
