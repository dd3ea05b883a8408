"""Writing batch N while batch N + 1 is planned (PostgreSQL) gives exactly the run of one batch
after the other: a plan that read what the batch in flight writes is made again after its
commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookplate.bootstrap import Container
from bookplate.sis.apply import Runner
from bookplate.sis.model import Report

from .helpers import user_xml, users_doc, write_zip


def _zip(tmp_path: Path, name: str, *users: str) -> Path:
    return write_zip(tmp_path / name, {"users.xml": users_doc(*users)})


def _outcome(c: Container, report: Report) -> tuple[object, ...]:
    items = c.sis.items(report.run_id or 0, limit=1000)
    return (
        report.status,
        dict(report.counts),
        [(i.kind, i.record_no, i.match_id, i.primary_id, i.detail) for i in items],
    )


@pytest.mark.parametrize("overlap", [False, True], ids=["one-after-the-other", "overlapped"])
def test_overlapped_runs_give_the_same_reports_and_users(
    c: Container,
    tmp_path: Path,
    database_url: str,
    overlap: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if overlap and not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL overlaps writing and planning")
    store = c.sis.store
    store.overlap_writes = overlap  # type: ignore[attr-defined]
    plans = []
    original = Runner._plan_batch

    def counted(self: Runner, *args: object) -> object:
        plans.append(1)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Runner, "_plan_batch", counted)
    first = _zip(
        tmp_path,
        "a.zip",
        user_xml("u1", barcode="B1"),
        user_xml("u2", barcode="B1"),  # B1 is u1's, written by the batch before
        user_xml("u3", barcode="B2"),
        user_xml("u4"),
    )
    one = c.sis.run("MAIN", "SIS", first, batch_size=1)
    second = _zip(
        tmp_path,
        "b.zip",
        user_xml("u3", last="Park"),  # drops B2 ...
        user_xml("u5", barcode="B2"),  # ... which the next batch may then take
        user_xml("u1", barcode="B1"),
        user_xml("u6", barcode="b1"),  # still u1's
    )
    two = c.sis.run("MAIN", "SIS", second, batch_size=1)
    expected_first = (
        "done",
        {"create": 3, "update": 0, "unchanged": 0, "reject": 1, "deactivate": 0},
        [
            ("create", 1, "u1", "u1", None),
            ("reject", 2, "u2", "u2", "ID b1 (BARCODE) is already held by user u1"),
            ("create", 3, "u3", "u3", None),
            ("create", 4, "u4", "u4", None),
        ],
    )
    assert _outcome(c, one) == expected_first
    status, counts, items = _outcome(c, two)
    assert status == "done"
    assert counts == {"create": 1, "update": 1, "unchanged": 1, "reject": 1, "deactivate": 0}
    assert [(k, m, d) for k, _, m, _, d in items] == [
        ("update", "u3", items[0][4]),
        ("create", "u5", None),
        ("unchanged", "u1", None),
        ("reject", "u6", "ID b1 (BARCODE) is already held by user u1"),
    ]
    assert c.users.get("MAIN", "B2").primary_id == "u5"
    if overlap:
        assert len(plans) > 8  # some plans were made again after the batch before committed
    else:
        assert len(plans) == 8
