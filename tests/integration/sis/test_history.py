"""SIS writes leave a history row per user (``audit_log``), written in the batch's transaction,
like the API's writes (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.sis.model import MissingPolicy
from bookplate.storage import tables as t

from .helpers import user_xml, users_doc, write_zip


def _history(c: Container, primary_id: str) -> list[tuple[str, str | None, Any]]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.action, a.actor, a.detail)
            .where(a.institution == "MAIN", a.target == primary_id)
            .order_by(a.id)
        ).all()
    return [(r.action, r.actor, r.detail) for r in rows]


def _zip(tmp_path: Path, name: str, *users: str) -> Path:
    return write_zip(tmp_path / name, {"users.xml": users_doc(*users)})


def test_a_users_history_lists_its_sis_changes(c: Container, tmp_path: Path) -> None:
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = MissingPolicy.DEACTIVATE
    profile.guard_share = 1.0
    c.sis.update_profile(profile)

    first = c.sis.run("MAIN", "SIS", _zip(tmp_path, "a.zip", user_xml("u1"), user_xml("u2")))
    assert first.counts["create"] == 2
    assert _history(c, "u1") == [("sis.create", "SIS", {"run": first.run_id, "profile": "SIS"})]

    # Unchanged records leave no history; a change names the fields it changed.
    second = c.sis.run(
        "MAIN",
        "SIS",
        _zip(tmp_path, "b.zip", user_xml("u1", last="Park"), user_xml("u2"), user_xml("u3")),
        actor="registrar",
    )
    assert second.counts == {**second.counts, "update": 1, "unchanged": 1, "create": 1}
    detail = {"run": second.run_id, "profile": "SIS", "fields": ["last_name"]}
    assert _history(c, "u1")[1:] == [("sis.update", "registrar", detail)]
    assert len(_history(c, "u2")) == 1
    # a create of the same batch as an update: its own detail, without the update's fields
    assert _history(c, "u3") == [
        ("sis.create", "registrar", {"run": second.run_id, "profile": "SIS"})
    ]

    third = c.sis.run(
        "MAIN", "SIS", _zip(tmp_path, "c.zip", user_xml("u1", last="Park"), user_xml("u3"))
    )
    assert third.counts["deactivate"] == 1
    assert _history(c, "u2")[-1] == ("sis.deactivate", "SIS", {"run": third.run_id})
    assert len(_history(c, "u1")) == 2


def test_a_dry_run_and_a_rejected_record_leave_no_history(c: Container, tmp_path: Path) -> None:
    path = _zip(tmp_path, "a.zip", user_xml("u1"), user_xml("u2", group="NO_SUCH_GROUP"))
    dry = c.sis.run("MAIN", "SIS", path, dry_run=True)
    assert dry.counts["create"] == 1 and dry.counts["reject"] == 1
    assert _history(c, "u1") == [] and _history(c, "u2") == []
    real = c.sis.run("MAIN", "SIS", path)
    assert real.counts["create"] == 1 and real.counts["reject"] == 1
    assert [h[0] for h in _history(c, "u1")] == ["sis.create"]
    assert _history(c, "u2") == []


def test_history_is_rolled_back_with_its_batch(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history rows are in the batch's transaction: a batch that fails leaves neither
    users nor history."""
    from bookplate.storage.sis_batch import SqlSisBatch

    def broken(self: SqlSisBatch, report: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(SqlSisBatch, "update_run", broken)
    with pytest.raises(RuntimeError):
        c.sis.run("MAIN", "SIS", _zip(tmp_path, "a.zip", user_xml("u1")))
    with c.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one() == 0
    assert _history(c, "u1") == []


def test_missing_users_are_read_and_deactivated_a_page_at_a_time(
    c: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookplate.storage import sis_repo

    monkeypatch.setattr(sis_repo, "MISSING_PAGE", 2)
    users = [user_xml(f"u{i}") for i in range(9)]
    assert c.sis.run("MAIN", "SIS", _zip(tmp_path, "a.zip", *users)).counts["create"] == 9
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = MissingPolicy.DEACTIVATE
    profile.guard_share = 1.0
    c.sis.update_profile(profile)
    kept = [users[0], users[4], users[8]]
    report = c.sis.run("MAIN", "SIS", _zip(tmp_path, "b.zip", *kept), batch_size=2)
    assert report.status == "done" and report.counts["deactivate"] == 6
    listed = [i.primary_id for i in c.sis.items(report.run_id or 0, "deactivate")]
    assert listed == ["u1", "u2", "u3", "u5", "u6", "u7"]
    status = {f"u{i}": c.users.get("MAIN", f"u{i}").status for i in range(9)}
    assert [p for p, s in status.items() if s == "ACTIVE"] == ["u0", "u4", "u8"]
    assert all(_history(c, p)[-1][0] == "sis.deactivate" for p in listed)
    # Run again: nobody is left to deactivate.
    again = c.sis.run("MAIN", "SIS", _zip(tmp_path, "c.zip", *kept), batch_size=2)
    assert again.counts["deactivate"] == 0
