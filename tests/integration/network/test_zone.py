"""Network Zone style central management in one deployment (SQLite and PostgreSQL): MAIN is
the central institution, HOST1 a member. A member copies a central user when it needs one;
each change of the central user reaches the member's copy through the live refresh as
External data; the member's Internal data, roles and statistics stay; nothing is copied by a
push; the zone's settings refuse bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.errors import BookplateError
from bookplate.network.errors import (
    InstitutionNotFound,
    InvalidPartner,
    LinkedAccountExists,
    SourceUserNotFound,
)
from bookplate.roles.errors import PermissionDenied
from bookplate.storage import tables as t
from bookplate.users.model import (
    Block,
    Email,
    Identifier,
    Note,
    Phone,
    SegmentType,
    Statistic,
    User,
    UserInput,
)

from ..sis.helpers import user_xml, users_doc, write_zip


def _central_user() -> UserInput:
    user = User(primary_id="zed", first_name="Zoe", last_name="Ng", user_group="UNDERGRAD",
                expiry_date=date(2030, 1, 31))
    user.contact_info.emails = [Email("zoe@central.edu", preferred=True,
                                      email_types=["school"])]
    user.identifiers = [Identifier("BARCODE", "Z-1")]
    user.notes = [Note("GENERAL", "central note")]
    user.blocks = [Block("GENERAL", "OVERDUE", "ACTIVE", block_note="central block")]
    user.statistics = [Statistic("Graduate", None)]
    return UserInput(user)


def _history(c: Container, institution: str, target: str, action: str) -> list[Any]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        return list(conn.execute(
            sa.select(a.detail).where(a.institution == institution, a.target == target,
                                      a.action == action).order_by(a.id)).scalars())


@pytest.fixture
def zone(c: Container) -> Container:
    c.network.remove_partner("HOST1", "MAIN", "test")  # (the fixture's linked accounts rule)
    c.network.set_zone_central("MAIN", "test")
    c.network.zone_member_set("HOST1", "test")
    c.users.create("MAIN", _central_user(), "api")
    return c


def test_a_member_copies_a_central_user_as_external_data(zone: Container) -> None:
    c = zone
    assert c.network.zone().members == ("HOST1",)
    copy_ = c.network.zone_copy_user("HOST1", "Z-1", "staff:desk")  # found by any unique ID
    assert (copy_.primary_id, copy_.account_type, copy_.source_institution_code) == \
        ("zed", "EXTERNAL", "MAIN")
    stored = c.users.get("HOST1", "zed")
    assert stored.contact_info.emails[0].segment_type == SegmentType.EXTERNAL
    assert [(i.value, i.segment_type) for i in stored.identifiers] == \
        [("Z-1", SegmentType.EXTERNAL)]
    assert [b.created_by for b in stored.blocks] == ["network:MAIN"]
    assert c.users.get("MAIN", "zed").roles  # the central's roles and statistics ...
    assert stored.statistics == []  # ... are never pushed; the member's own rules apply
    assert [r.scope for r in stored.roles] == ["HOST1"]
    assert stored.linking_id and stored.linking_id == c.users.get("MAIN", "zed").linking_id
    assert _history(c, "HOST1", "zed", "network.zone_copy")[0]["source_user_id"] == "zed"
    with pytest.raises(LinkedAccountExists):
        c.network.zone_copy_user("HOST1", "zed", "staff:desk")
    with pytest.raises(InvalidPartner):  # HOST2 is no member
        c.network.zone_copy_user("HOST2", "zed", "staff:desk")
    with pytest.raises(SourceUserNotFound):
        c.network.zone_copy_user("HOST1", "nobody", "staff:desk")


def test_a_central_change_reaches_the_copy_and_the_members_own_data_stays(
    zone: Container,
) -> None:
    c = zone
    c.network.zone_copy_user("HOST1", "zed", "staff:desk")

    def local(user: User) -> None:
        user.contact_info.phones.append(Phone("555-0100"))
        user.notes.append(Note("GENERAL", "member's own note"))
        user.blocks.append(Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="member"))
        user.statistics.append(Statistic("LOCAL", None))

    c.users.staff_update("HOST1", "zed", local, "staff:desk")
    central = c.users.get("MAIN", "zed")
    central.last_name = "Ng-Park"
    central.contact_info.emails = [Email("zoe@new.edu", preferred=True,
                                         email_types=["school"])]
    central.blocks = []
    c.users.replace("MAIN", "zed", UserInput(central), "api")
    report = c.network.process_outbox()
    assert (report.refreshed, report.failed) == (1, [])
    copy_ = c.users.get("HOST1", "zed")
    assert copy_.last_name == "Ng-Park"
    assert [e.email_address for e in copy_.contact_info.emails] == ["zoe@new.edu"]
    assert [p.phone_number for p in copy_.contact_info.phones] == ["555-0100"]
    assert sorted(n.note_text or "" for n in copy_.notes) == ["central note",
                                                              "member's own note"]
    assert [b.block_note for b in copy_.blocks] == ["member"]  # the central's block went
    assert [s.statistic_category for s in copy_.statistics] == ["LOCAL"]
    assert [d["trigger"] for d in _history(c, "HOST1", "zed", "network.refresh")] == ["zone"]
    # Working it again changes nothing; HOST2 (no member, no copy) got nothing.
    assert c.network.process_outbox().entries == 0
    with pytest.raises(BookplateError):
        c.users.get("HOST2", "zed")


def test_a_removed_member_keeps_its_copy_unrefreshed(zone: Container) -> None:
    c = zone
    c.network.zone_copy_user("HOST1", "zed", "staff:desk")
    c.network.zone_member_remove("HOST1", "test")
    central = c.users.get("MAIN", "zed")
    central.last_name = "Later"
    c.users.replace("MAIN", "zed", UserInput(central), "api")
    c.network.process_outbox()
    assert c.users.get("HOST1", "zed").last_name == "Ng"
    assert _history(c, "MAIN", "zone", "network.zone_member_removed")[0]["member"] == "HOST1"


@pytest.mark.parametrize("code", ["", " ", "NOPE", "x" * 65, "A'; DROP TABLE users;--",
                                  "MA\x00IN", "\u00e9t\u00e9"])
def test_the_zone_refuses_bad_codes(zone: Container, code: str) -> None:
    c = zone
    for change in (lambda: c.network.set_zone_central(code, "test"),
                   lambda: c.network.zone_member_set(code, "test"),
                   lambda: c.network.zone_copy_user(code, "zed", "test")):
        with pytest.raises((InvalidPartner, InstitutionNotFound)):
            change()
    assert c.network.zone().central == "MAIN"


def test_who_may_change_the_zone(zone: Container) -> None:
    c = zone
    with pytest.raises(PermissionDenied):
        c.network.zone_member_set("HOST2", "api", by="HOST1")
    with pytest.raises(PermissionDenied):
        c.network.set_zone_central("HOST2", "api", by="HOST2")  # MAIN is central already
    with pytest.raises(InvalidPartner):
        c.network.set_zone_central("HOST1", "test")  # a member cannot be central
    with pytest.raises(InvalidPartner):
        c.network.zone_member_set("MAIN", "test")
    with pytest.raises(InvalidPartner):  # HOST2 links MAIN's users: no zone member too
        c.network.zone_member_set("HOST2", "test")
    with pytest.raises(InvalidPartner):  # and a zone member gets no partner entry for MAIN
        c.network.put_partner("HOST1", "MAIN", {}, "test")
    c.network.zone_member_remove("HOST1", "api", by="HOST1")  # a member may leave
    c.network.set_zone_central(None, "api", by="MAIN")
    assert c.network.zone().central is None
    with pytest.raises(InvalidPartner):
        c.network.zone_member_set("HOST1", "test")  # no central
    c.network.set_zone_central("HOST1", "api", by="HOST1")  # none: one may declare itself
    assert _history(c, "HOST1", "zone", "network.zone_central")[-1]["central"] == "HOST1"


def test_an_sis_load_of_the_central_reaches_the_member_copies(
    zone: Container, tmp_path: Path,
) -> None:
    """The SIS runs once, in the central: its updates reach the existing member copies; the
    central users without a copy get none."""
    c = zone
    first = write_zip(tmp_path / "a.zip", {"users.xml": users_doc(
        user_xml("s1"), user_xml("s2"))})
    assert c.sis.run("MAIN", "SIS", first).counts["create"] == 2
    c.network.zone_copy_user("HOST1", "s1", "staff:desk")
    second = write_zip(tmp_path / "b.zip", {"users.xml": users_doc(
        user_xml("s1", last="Kim"), user_xml("s2", last="Roe"))})
    assert c.sis.run("MAIN", "SIS", second).counts["update"] == 2
    assert c.network.process_outbox().refreshed == 1
    assert c.users.get("HOST1", "s1").last_name == "Kim"
    with pytest.raises(BookplateError):
        c.users.get("HOST1", "s2")  # no copy is made by a push
