"""Live refresh: every change of a source user (API, staff edit, SIS load, SIS
missing-users pass, deletion) leaves an outbox entry in its own transaction; working the
outbox brings every linked copy up to date, in order, at least once and without applying
anything twice — also when the worker dies mid-batch or two work at once."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.network.model import SOURCE_GONE_NOTE
from bookplate.network.services import NetworkService
from bookplate.storage import tables as t
from bookplate.users.model import Block, Email, User, UserInput

from ..sis.helpers import user_xml, users_doc, write_zip


def _user(primary_id: str, last: str = "Lee", **extra: Any) -> UserInput:
    return UserInput(User(primary_id=primary_id, first_name="Ann", last_name=last,
                          user_group="UNDERGRAD", expiry_date=date(2030, 1, 31), **extra))


def _history(c: Container, institution: str, primary_id: str, action: str) -> list[Any]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        return list(conn.execute(
            sa.select(a.detail).where(a.institution == institution, a.target == primary_id,
                                      a.action == action).order_by(a.id)
        ).scalars())


def _link_both(c: Container, primary_id: str) -> None:
    c.network.link("HOST1", "MAIN", primary_id, "test")
    c.network.link("HOST2", "MAIN", primary_id, "test")


def test_an_api_change_reaches_every_copy(c: Container) -> None:
    c.users.create("MAIN", _user("ann"), "api")
    _link_both(c, "ann")
    assert c.network.waiting() == 0  # linking wrote no outbox entry
    stored = c.users.get("MAIN", "ann")
    stored.last_name = "Park"
    stored.expiry_date = date(2031, 6, 30)
    stored.contact_info.emails = [Email("ann@main.edu", preferred=True,
                                        email_types=["school"])]
    c.users.replace("MAIN", "ann", UserInput(stored), "api")
    assert c.network.waiting() == 1
    report = c.network.process_outbox()
    assert (report.entries, report.refreshed, report.failed) == (1, 2, [])
    one, two = c.users.get("HOST1", "ann"), c.users.get("HOST2", "ann")
    assert one.last_name == two.last_name == "Park"
    assert one.contact_info.emails[0].email_address == "ann@main.edu"
    assert one.user_group == "GRAD"  # the host's rule keeps its group
    assert one.expiry_date == date(2031, 6, 30)  # HOST1: same as source, refreshed
    assert two.expiry_date == date(2029, 12, 31)  # HOST2: fixed, not refreshed
    assert c.network.waiting() == 0
    detail = _history(c, "HOST1", "ann", "network.refresh")
    assert [d["trigger"] for d in detail] == ["live"]
    # Working an empty outbox again changes nothing and records nothing.
    assert c.network.process_outbox().entries == 0
    assert len(_history(c, "HOST1", "ann", "network.refresh")) == 1


def test_a_user_without_copies_leaves_no_outbox_entry(c: Container) -> None:
    c.users.create("MAIN", _user("solo"), "api")
    stored = c.users.get("MAIN", "solo")
    stored.last_name = "Other"
    c.users.replace("MAIN", "solo", UserInput(stored), "api")
    assert c.network.waiting() == 0


def test_a_staff_edit_and_a_primary_id_change_reach_the_copies(c: Container) -> None:
    c.users.create("MAIN", _user("bo"), "api")
    _link_both(c, "bo")

    def edit(user: User) -> None:
        user.first_name = "Bob"

    c.users.staff_update("MAIN", "bo", edit, "staff:admin")
    renamed = c.users.get("MAIN", "bo")
    renamed.primary_id = "bo2"
    c.users.replace("MAIN", "bo", UserInput(renamed), "api")
    assert c.network.waiting() == 2
    c.network.process_outbox()
    copy = c.network.copy_by_link("HOST1", "MAIN", "bo2")
    assert copy.first_name == "Bob"
    assert copy.source_link_id == "bo2"


def test_an_sis_load_refreshes_the_copies(c: Container, tmp_path: Path) -> None:
    first = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(
        user_xml("s1"), user_xml("s2"), user_xml("s3"))})
    assert c.sis.run("MAIN", "SIS", first).counts["create"] == 3
    _link_both(c, "s1")
    c.network.link("HOST1", "MAIN", "s2", "test")
    second = write_zip(tmp_path / "b.zip", {"users.xml": users_doc(
        user_xml("s1", last="Kim"), user_xml("s2", last="Roe"), user_xml("s3", last="Fox"))})
    report = c.sis.run("MAIN", "SIS", second)
    assert report.counts["update"] == 3
    assert c.network.waiting() == 2  # s3 has no copy
    c.network.process_outbox()
    assert c.users.get("HOST1", "s1").last_name == "Kim"
    assert c.users.get("HOST2", "s1").last_name == "Kim"
    assert c.users.get("HOST1", "s2").last_name == "Roe"


def test_deleting_a_source_marks_its_copies(c: Container) -> None:
    c.users.create("MAIN", _user("gone"), "api")
    _link_both(c, "gone")
    c.users.delete("MAIN", "gone")
    report = c.network.process_outbox()
    assert report.marked == 2
    for host in ("HOST1", "HOST2"):
        notes = c.users.get(host, "gone").notes
        assert [n.note_text.startswith(SOURCE_GONE_NOTE) for n in notes if n.note_text] == [True]
        assert len(_history(c, host, "gone", "network.source_deleted")) == 1


def test_blocks_flow_from_home_to_host_and_the_hosts_own_stay(c: Container) -> None:
    c.users.create("MAIN", _user("blk"), "api")
    c.network.link("HOST1", "MAIN", "blk", "test")

    def own_block(user: User) -> None:
        user.blocks.append(Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="host"))

    c.users.staff_update("HOST1", "blk", own_block, "staff:h")
    src = c.users.get("MAIN", "blk")
    src.blocks = [Block("GENERAL", "OVERDUE", "ACTIVE", block_note="home")]
    c.users.replace("MAIN", "blk", UserInput(src), "api")
    c.network.process_outbox()
    notes = sorted(b.block_note or "" for b in c.users.get("HOST1", "blk").blocks)
    assert notes == ["home", "host"]
    # The home stops sharing its blocks: the copied one goes, the host's own stays.
    c.network.set_member("MAIN", "test", share_blocks=False)
    src = c.users.get("MAIN", "blk")
    src.last_name = "Again"
    c.users.replace("MAIN", "blk", UserInput(src), "api")
    c.network.process_outbox()
    assert [b.block_note for b in c.users.get("HOST1", "blk").blocks] == ["host"]


class _Crash(BaseException):
    """A worker killed mid-batch (not an error the pass could catch and go on)."""


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    c: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"k{i}" for i in range(6)]
    for primary_id in ids:
        c.users.create("MAIN", _user(primary_id), "api")
        _link_both(c, primary_id)
    for primary_id in ids:
        stored = c.users.get("MAIN", primary_id)
        stored.last_name = "Changed"
        c.users.replace("MAIN", primary_id, UserInput(stored), "api")
    assert c.network.waiting() == 6

    original = c.users.store_many_in
    writes = {"n": 0}

    def dying_store(uow: Any, pairs: Any, actor: str) -> list[User]:
        written = original(uow, pairs, actor)  # the group's copies, written, not committed
        writes["n"] += len(pairs)
        if writes["n"] >= 6:  # the second group (the third and fourth source users)
            raise _Crash()
        return written

    monkeypatch.setattr(c.users, "store_many_in", dying_store)
    with pytest.raises(_Crash):
        c.network.process_outbox(group=2)  # two source users a transaction
    monkeypatch.setattr(c.users, "store_many_in", original)
    # The first group (two source users) fully done, their entries gone with their refresh;
    # the second rolled back whole: its users' first copies are not half-applied.
    assert c.network.waiting() == 4
    assert c.users.get("HOST1", "k2").last_name == "Lee"
    assert c.users.get("HOST1", "k1").last_name == "Changed"
    c.network.process_outbox()
    assert c.network.waiting() == 0
    for primary_id in ids:
        for host in ("HOST1", "HOST2"):
            assert c.users.get(host, primary_id).last_name == "Changed"
            assert len(_history(c, host, primary_id, "network.refresh")) == 1


def test_an_error_leaves_the_entries_waiting_and_counts_the_attempt(
    c: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    c.users.create("MAIN", _user("err"), "api")
    c.network.link("HOST1", "MAIN", "err", "test")
    src = c.users.get("MAIN", "err")
    src.last_name = "X"
    c.users.replace("MAIN", "err", UserInput(src), "api")

    def broken(*args: Any, **kwargs: Any) -> User:
        raise RuntimeError("database went away")

    monkeypatch.setattr(c.users, "store_many_in", broken)
    report = c.network.process_outbox()
    assert len(report.failed) == 1 and "database went away" in report.failed[0]
    with c.engine.connect() as conn:
        attempts, error = conn.execute(
            sa.select(t.network_outbox.c.attempts, t.network_outbox.c.last_error)
        ).one()
    assert attempts == 1 and "database went away" in error
    monkeypatch.undo()
    assert c.network.process_outbox().refreshed == 1


def test_concurrent_workers_and_refreshes_end_current_once(c: Container) -> None:
    ids = [f"c{i}" for i in range(8)]
    for primary_id in ids:
        c.users.create("MAIN", _user(primary_id), "api")
        _link_both(c, primary_id)
    for round_ in range(3):
        for primary_id in ids:
            stored = c.users.get("MAIN", primary_id)
            stored.last_name = f"Round{round_}"
            c.users.replace("MAIN", primary_id, UserInput(stored), "api")
    errors: list[BaseException] = []
    network: NetworkService = c.network

    def work() -> None:
        try:
            network.process_outbox(limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def refresh() -> None:
        try:
            for primary_id in ids:
                network.refresh("HOST1", primary_id, "all_unique", "api:desk")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    threads.append(threading.Thread(target=refresh))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    c.network.process_outbox()
    assert c.network.waiting() == 0
    for primary_id in ids:
        assert c.users.get("HOST1", primary_id).last_name == "Round2"
        assert c.users.get("HOST2", primary_id).last_name == "Round2"
        # Live refreshes are written only when they change something: at most one a host.
        live = [d for d in _history(c, "HOST2", primary_id, "network.refresh")
                if d["trigger"] == "live"]
        assert len(live) == 1
