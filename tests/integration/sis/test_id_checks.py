"""The ID check of a batch asks the store only for IDs a writing user does not hold yet; the
clash rules stay as they were (SPEC section 4.3)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bookplate.bootstrap import Container
from bookplate.sis import writer
from bookplate.storage.sis_batch import SqlSisBatch

from .helpers import user_xml, users_doc, write_zip


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ID the runs ask the store about (``SqlSisBatch.id_holders``)."""
    seen: list[str] = []
    real = SqlSisBatch.id_holders

    def spy(self: SqlSisBatch, institution: str, norms: Sequence[str]) -> dict[str, Any]:
        seen.extend(norms)
        return real(self, institution, norms)

    monkeypatch.setattr(SqlSisBatch, "id_holders", spy)
    return seen


def _zip(tmp_path: Path, name: str, *users: str) -> Path:
    return write_zip(tmp_path / name, {"users.xml": users_doc(*users)})


def test_an_update_keeping_its_ids_asks_only_for_new_ones(
    c: Container, tmp_path: Path, asked: list[str]
) -> None:
    c.sis.run("MAIN", "SIS", _zip(tmp_path, "a.zip", user_xml("u1", barcode="B1")))
    asked.clear()
    report = c.sis.run(
        "MAIN",
        "SIS",
        _zip(
            tmp_path,
            "b.zip",
            user_xml("u1", last="Park", barcode="B1"),  # same IDs, new name
            user_xml("u2", barcode="B2"),  # new user
        ),
    )
    assert report.counts["update"] == 1 and report.counts["create"] == 1
    assert sorted(asked) == ["b2", "u2"]  # normalised IDs
    assert c.users.get("MAIN", "B1").last_name == "Park"


def test_an_update_taking_another_users_id_is_still_rejected(
    c: Container, tmp_path: Path, asked: list[str]
) -> None:
    c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "a.zip", user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2")),
    )
    asked.clear()
    report = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "b.zip", user_xml("u1", barcode="B2"), user_xml("u2", barcode="B2")),
    )
    assert "b2" in asked
    assert report.counts["reject"] == 1 and report.counts["unchanged"] == 1
    reject = next(i for i in c.sis.items(report.run_id or 0) if i.kind == "reject")
    assert reject.match_id == "u1" and "already held by user u2" in (reject.detail or "")
    assert c.users.get("MAIN", "B2").primary_id == "u2"
    assert c.users.get("MAIN", "B1").primary_id == "u1"


def _two_users(c: Container, tmp_path: Path) -> None:
    """u1 holding barcode B1, u2 holding B2."""
    c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "a.zip", user_xml("u1", barcode="B1"), user_xml("u2", barcode="B2")),
    )


@pytest.mark.parametrize("batch_size", [10, 1])
def test_an_id_dropped_by_an_earlier_record_is_free_for_a_later_one(
    c: Container, tmp_path: Path, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """u1 gives up B1 and u2, later in the file, takes it: as when records go one by one,
    in one batch or in two."""
    _two_users(c, tmp_path)
    report = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "b.zip", user_xml("u1", barcode="B9"), user_xml("u2", barcode="B1")),
        batch_size=batch_size,
    )
    assert report.counts["update"] == 2 and report.counts["reject"] == 0, report
    assert c.users.get("MAIN", "B1").primary_id == "u2"
    assert c.users.get("MAIN", "B9").primary_id == "u1"
    sets: list[int] = []
    real = writer.write_set

    def counted(batch: Any, actions: Any, prepared: Any = None) -> None:
        sets.append(len(actions))
        real(batch, actions, prepared)

    monkeypatch.setattr(writer, "write_set", counted)
    new = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "c.zip", user_xml("u1", barcode="B8"), user_xml("u3", barcode="B9")),
        batch_size=batch_size,
    )
    assert new.counts["update"] == 1 and new.counts["create"] == 1, new  # a new user too
    assert c.users.get("MAIN", "B9").primary_id == "u3"
    # written as a set, not record by record after a clash with the unique key
    assert sets == ([2] if batch_size > 1 else [1, 1])


def test_an_id_dropped_by_a_later_record_is_still_held_for_an_earlier_one(
    c: Container, tmp_path: Path
) -> None:
    """u2 asks for B1 before u1, later in the file, gives it up: rejected, as one by one."""
    _two_users(c, tmp_path)
    report = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "b.zip", user_xml("u2", barcode="B1"), user_xml("u1", barcode="B9")),
    )
    assert report.counts["reject"] == 1 and report.counts["update"] == 1, report
    reject = next(i for i in c.sis.items(report.run_id or 0) if i.kind == "reject")
    assert reject.match_id == "u2" and "already held by user u1" in (reject.detail or "")
    assert c.users.get("MAIN", "B2").primary_id == "u2"
    assert c.users.get("MAIN", "B9").primary_id == "u1"


def test_an_id_dropped_by_an_earlier_rejected_record_stays_held(
    c: Container, tmp_path: Path
) -> None:
    """u1's record would give up B1 but is itself rejected (it takes u3's B3): u1 keeps B1,
    so u2 cannot have it."""
    c.sis.run(
        "MAIN",
        "SIS",
        _zip(
            tmp_path,
            "a.zip",
            user_xml("u1", barcode="B1"),
            user_xml("u2", barcode="B2"),
            user_xml("u3", barcode="B3"),
        ),
    )
    report = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "b.zip", user_xml("u1", barcode="B3"), user_xml("u2", barcode="B1")),
    )
    assert report.counts["reject"] == 2, report
    assert c.users.get("MAIN", "B1").primary_id == "u1"
    assert c.users.get("MAIN", "B2").primary_id == "u2"
