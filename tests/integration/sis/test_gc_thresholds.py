"""A run collects garbage less often while records stream through, and puts the collector's
thresholds back afterwards, also when the run fails."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis.apply import Runner

from .helpers import user_xml, users_doc, write_zip


def test_thresholds_are_raised_during_the_run_and_restored(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    original = Runner._main_pass

    def watched(self: Runner) -> None:
        seen.append(gc.get_threshold())
        original(self)

    monkeypatch.setattr(Runner, "_main_pass", watched)
    f = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(user_xml("u1"))})
    assert c.sis.run("MAIN", "SIS", f).counts["create"] == 1
    assert seen and seen[0][0] > before[0]
    assert gc.get_threshold() == before

    def failing(self: Runner) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Runner, "_main_pass", failing)
    with pytest.raises(RuntimeError):
        c.sis.run("MAIN", "SIS", f)
    assert gc.get_threshold() == before


def test_runs_that_overlap_restore_the_thresholds_from_before_the_first() -> None:
    """Two runs going at once in one process (a worker with several jobs): the first to end
    leaves the raised thresholds for the other; the last restores the original ones."""
    from bookplate.sis.apply import _fewer_collections

    before = gc.get_threshold()
    first, second = _fewer_collections(), _fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] > before[0]  # the second run is still going
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
