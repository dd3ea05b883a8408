"""The outbox pass's set-based group (SQLite and PostgreSQL): one transaction refreshing many
source users' copies writes what the one-copy path writes — the copies' records, their
search rows, the same history lines — leaves unchanged copies and copies of a former partner
alone, marks the copies of a deleted source, and on PostgreSQL leaves a user whose lock
another transaction holds for a later pass instead of waiting for it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.network.model import SOURCE_GONE_NOTE
from bookplate.storage import tables as t
from bookplate.users.model import Email, User, UserInput


def _user(primary_id: str, last: str = "Lee") -> UserInput:
    return UserInput(User(primary_id=primary_id, first_name="Ann", last_name=last,
                          user_group="UNDERGRAD", expiry_date=date(2030, 1, 31)))


def _change(c: Container, primary_id: str, last: str) -> None:
    stored = c.users.get("MAIN", primary_id)
    stored.last_name = last
    stored.contact_info.emails = [Email(f"{primary_id}@main.edu", preferred=True,
                                        email_types=["school"])]
    c.users.replace("MAIN", primary_id, UserInput(stored), "api")


def _lines(c: Container, institution: str, primary_id: str) -> list[tuple[str, Any]]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        return [(action, detail) for action, detail in conn.execute(
            sa.select(a.action, a.detail).where(
                a.institution == institution, a.target == primary_id,
                a.action.in_(["user.replace", "network.refresh", "network.source_deleted"]),
            ).order_by(a.id))]


def _terms(c: Container, institution: str, primary_id: str) -> set[str]:
    u, terms = t.users.c, t.user_terms.c
    with c.engine.connect() as conn:
        return set(conn.execute(
            sa.select(terms.term).join(t.users, u.id == terms.user_pk)
            .where(u.institution == institution, u.primary_id == primary_id,
                   terms.field == "last_name")).scalars())


def test_one_group_writes_what_each_copy_would(c: Container) -> None:
    ids = [f"g{i}" for i in range(6)]
    for primary_id in ids:
        c.users.create("MAIN", _user(primary_id), "api")
        c.network.link("HOST1", "MAIN", primary_id, "test")
        c.network.link("HOST2", "MAIN", primary_id, "test")
    for primary_id in ids[:4]:
        _change(c, primary_id, f"New-{primary_id}")
    c.users.delete("MAIN", "g4")
    # g5 is written unchanged: its copies stay as they are, with no history line.
    c.users.replace("MAIN", "g5", UserInput(c.users.get("MAIN", "g5")), "api")
    c.network.remove_partner("HOST2", "MAIN", "test")  # HOST2's copies are left alone
    assert c.network.waiting() == 6
    report = c.network.process_outbox(group=10)
    assert (report.entries, report.refreshed, report.marked, report.failed) == (6, 4, 2, [])
    assert report.unchanged == 1  # HOST1's copy of g5 (HOST2's are not looked at)
    assert c.network.waiting() == 0
    for primary_id in ids[:4]:
        copy_ = c.users.get("HOST1", primary_id)
        assert copy_.last_name == f"New-{primary_id}"
        assert copy_.contact_info.emails[0].email_address == f"{primary_id}@main.edu"
        assert copy_.user_group == "GRAD"  # the host's rule
        assert copy_.last_modified_by == "network-refresh"
        assert _terms(c, "HOST1", primary_id) == {"new", primary_id}  # "lee" gone
        assert c.users.get("HOST2", primary_id).last_name == "Lee"
        assert _lines(c, "HOST1", primary_id) == [
            ("user.replace", None),
            ("network.refresh", {"trigger": "live", "changed": True,
                                 "source_institution_code": "MAIN",
                                 "source_user_id": primary_id}),
        ]
        assert _lines(c, "HOST2", primary_id) == []
    gone = c.users.get("HOST1", "g4")
    assert [n.note_text.startswith(SOURCE_GONE_NOTE) for n in gone.notes if n.note_text] == [True]
    assert _lines(c, "HOST1", "g4") == [
        ("user.replace", None),
        ("network.source_deleted", {"source_institution_code": "MAIN", "source_user_id": "g4"}),
    ]
    assert _lines(c, "HOST1", "g5") == []
    # Again: nothing is waiting, nothing is written.
    assert c.network.process_outbox().entries == 0
    assert len(_lines(c, "HOST1", "g0")) == 2


def test_a_copy_the_rules_refuse_fails_its_source_only(c: Container) -> None:
    for primary_id in ("ok", "bad"):
        c.users.create("MAIN", _user(primary_id), "api")
        c.network.link("HOST1", "MAIN", primary_id, "test")
    _change(c, "ok", "Fine")
    stored = c.users.get("MAIN", "bad")
    stored.first_name = "Ann\x07"  # a control character: the copy's check refuses it
    with c.uow_factory() as uow:  # written past the services, as a broken import might
        uow.users.replace("bad", stored, None)
        uow.commit()
    report = c.network.process_outbox()
    assert report.refreshed == 1 and len(report.failed) == 1 and "MAIN/bad" in report.failed[0]
    assert c.users.get("HOST1", "ok").last_name == "Fine"
    assert c.users.get("HOST1", "bad").last_name == "Lee"
    assert c.network.waiting() == 1


def test_a_user_locked_elsewhere_is_left_for_a_later_pass(
    c: Container, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: a second transaction cannot hold a user's lock")
    for primary_id in ("free", "held"):
        c.users.create("MAIN", _user(primary_id), "api")
        c.network.link("HOST1", "MAIN", primary_id, "test")
        _change(c, primary_id, "Moved")
    with c.uow_factory() as other:
        other.network.lock_source("MAIN", "held")  # as an op=refresh of it would, meanwhile
        report = c.network.process_outbox()
        assert report.entries == 1 and report.failed == []
        assert c.users.get("HOST1", "free").last_name == "Moved"
        assert c.users.get("HOST1", "held").last_name == "Lee"
        assert c.network.waiting() == 1
    assert c.network.process_outbox().refreshed == 1
    assert c.users.get("HOST1", "held").last_name == "Moved"
