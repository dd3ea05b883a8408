"""The staff pages' edits in place, "Restore" of fields changed by hand (with real SIS runs of
``bookplate sis sync``), and the Proxy for tab, through create_app on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    Note,
    Phone,
    SegmentType,
    Statistic,
    User,
    UserInput,
)
from tests.functional.staff_pages import Site, sis_loads, site_for
from tests.integration.sis.helpers import user_xml


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def stored(site: Site, primary_id: str) -> User:
    return site.container.users.get("MAIN", primary_id)


def full(site: Site, primary_id: str, **parts: Any) -> None:
    """Gives ``primary_id`` one or two entries of every kind (internal)."""
    user = stored(site, primary_id)
    for name, value in parts.items():
        if name in ("emails", "phones", "addresses"):
            setattr(user.contact_info, name, value)
        else:
            setattr(user, name, value)
    site.container.users.replace("MAIN", primary_id, UserInput(user), "test")


# -- edit in place -----------------------------------------------------------------------------


def test_the_edit_form_is_filled_with_the_entry(site: Site) -> None:
    site.sign_in("manager")
    page = site.client.get("/staff/users/jdoe?tab=contact&edit=emails-0").text
    form = page[page.index('id="email-edit"'):]
    assert 'name="index" value="0"' in form
    assert 'id="e-email_address"' in form and 'value="jose@example.org"' in form
    assert 'name="preferred" value="1" checked' in form
    assert 'id="email-add"' not in page  # the edit form takes the add form's place
    listed = site.client.get("/staff/users/jdoe?tab=contact").text
    assert 'id="emails-edit-0"' in listed and "edit=emails-0" in listed
    # An index that is not there shows the add form; junk is ignored.
    for junk in ("emails-9", "emails-x", "nope-0", "-", "emails-99999999"):
        r = site.client.get(f"/staff/users/jdoe?tab=contact&edit={junk}")
        assert r.status_code == 200 and 'id="email-add"' in r.text, junk


def test_every_kind_of_entry_is_edited_in_place(site: Site) -> None:
    when = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    full(site, "jdoe",
         phones=[Phone("+1 555 0100", ["mobile"], preferred=True),
                 Phone("+1 555 0199", ["home"])],
         addresses=[Address(line1="1 Old Road", line3="Flat 3", city="Oldtown",
                            address_types=["home", "work"], preferred=True)],
         notes=[Note("GENERAL", "first note", created_by="desk", created_date=when)],
         blocks=[Block("GENERAL", "LOST_CARD", "ACTIVE", "lost", created_by="desk",
                       created_date=when)],
         statistics=[Statistic("LOCAL", None, "n1")])
    site.sign_in("manager")
    ok = (303,)
    r = site.post("/staff/users/jdoe/emails/edit", {
        "index": "0", "email_address": "jose.doe@example.org", "email_type": "work",
        "preferred": "1"})
    assert r.status_code in ok and r.headers["location"] == (
        "/staff/users/jdoe?tab=contact&done=saved")
    r = site.post("/staff/users/jdoe/phones/edit", {
        "index": "1", "phone_number": "+1 555 0200", "phone_type": "home", "preferred": "1",
        "preferred_sms": "1"})
    assert r.status_code in ok
    r = site.post("/staff/users/jdoe/addresses/edit", {
        "index": "0", "line1": "2 New Street", "city": "Newtown", "address_type": "home",
        "preferred": "1"})
    assert r.status_code in ok
    r = site.post("/staff/users/jdoe/identifiers/edit", {
        "index": "0", "id_type": "BARCODE", "value": "39001-0043", "note": "replaced card",
        "status": "ACTIVE"})
    assert r.status_code in ok
    r = site.post("/staff/users/jdoe/notes/edit", {
        "index": "0", "note_type": "CIRCULATION", "note_text": "edited note",
        "user_viewable": "1"})
    assert r.status_code in ok
    r = site.post("/staff/users/jdoe/blocks/edit", {
        "index": "0", "block_type": "GENERAL", "block_description": "LOST_CARD",
        "block_note": "found again", "block_status": "INACTIVE", "expiry_date": "2030-01-31"})
    assert r.status_code in ok
    r = site.post("/staff/users/jdoe/statistics/edit", {
        "index": "0", "statistic_category": "LOCAL", "statistic_note": "n2"})
    assert r.status_code in ok
    user = stored(site, "jdoe")
    email = user.contact_info.emails[0]
    assert (email.email_address, email.email_types, email.preferred) == (
        "jose.doe@example.org", ["work"], True)
    phones = user.contact_info.phones
    assert [p.phone_number for p in phones] == ["+1 555 0100", "+1 555 0200"]
    assert [p.preferred for p in phones] == [False, True]  # the edited one is preferred now
    assert phones[1].preferred_sms is True
    address = user.contact_info.addresses[0]
    assert (address.line1, address.city, address.line2) == ("2 New Street", "Newtown", None)
    assert address.line3 == "Flat 3"  # not on the form: kept
    assert address.address_types == ["home", "work"]  # further types kept
    assert (user.identifiers[0].value, user.identifiers[0].note) == ("39001-0043",
                                                                     "replaced card")
    note = user.notes[0]
    assert (note.note_type, note.note_text, note.user_viewable) == (
        "CIRCULATION", "edited note", True)
    assert (note.created_by, note.created_date) == ("desk", when)  # who added it stays
    block = user.blocks[0]
    assert (block.block_status, block.block_note, block.created_by) == (
        "INACTIVE", "found again", "desk")
    assert block.expiry_date is not None and block.expiry_date.date().isoformat() == (
        "2030-01-31")
    assert user.statistics[0].statistic_note == "n2"
    history = [h.actor for h in site.container.users.history("MAIN", "jdoe")]
    assert history[:7] == ["staff:manager"] * 7
    # The barcode scan finds the user by the edited identifier only.
    scan = site.client.get("/staff/users?q=39001-0043", follow_redirects=False)
    assert scan.headers["location"] == "/staff/users/jdoe"


def test_edit_errors_are_the_services_and_shown_beside_the_edit_form(site: Site) -> None:
    site.sign_in("manager")
    r = site.post("/staff/users/jdoe/identifiers/edit", {
        "index": "0", "id_type": "BARCODE", "value": "BC-gsa"})
    assert r.status_code == 400
    assert re.search(r'id="error-identifiers-edit">User with identifier BC-gsa of type '
                     r"BARCODE already exists.<", r.text)
    assert 'id="identifier-edit"' in r.text  # the edit form is shown again
    r = site.post("/staff/users/jdoe/emails/edit", {"index": "0", "email_address": "x",
                                                    "email_type": "NOPE"})
    assert r.status_code == 400 and 'id="error-emails-edit"' in r.text
    assert refused(site.post("/staff/users/jdoe/emails/edit",
                             {"index": "5", "email_address": "a@b.example"}), 400)
    r = site.post("/staff/users/jdoe/identifiers/edit", {
        "index": "0", "id_type": "BARCODE", "value": "Z", "status": "MAYBE"})
    assert refused(r, 400) and "status" in r.text
    assert stored(site, "jdoe").identifiers[0].value == "39001-0042"
    assert stored(site, "jdoe").contact_info.emails[0].email_address == "jose@example.org"


def test_sis_entries_are_edited_only_when_opened_and_stay_the_sis(site: Site) -> None:
    site.container.users.create("MAIN", UserInput(User(
        "ext1", account_type="EXTERNAL", external_id="SIS", last_name="Ernal",
        user_group="UNDERGRAD", contact_info=ContactInfo(emails=[Email(
            "ext@uni.example", ["personal"], segment_type=SegmentType.EXTERNAL)]))), "sis")
    site.sign_in("manager")
    locked = site.client.get("/staff/users/ext1?tab=contact").text
    assert 'id="emails-edit-0"' not in locked
    r = site.post("/staff/users/ext1/emails/edit", {"index": "0",
                                                    "email_address": "me@uni.example"})
    assert refused(r, 400) and "open the record for update" in r.text
    r = site.post("/staff/users/ext1/emails/edit", {
        "open": "1", "index": "0", "email_address": "me@uni.example", "email_type": "personal"})
    assert r.headers["location"] == "/staff/users/ext1?tab=contact&done=saved&open=1"
    email = stored(site, "ext1").contact_info.emails[0]
    assert (email.email_address, email.segment_type) == ("me@uni.example",
                                                        SegmentType.EXTERNAL)


def test_a_desk_operator_edits_as_the_policy_lets_them(site: Site) -> None:
    full(site, "manager", notes=[Note("GENERAL", "staff note")])
    site.sign_in("desk")
    assert site.post("/staff/users/jdoe/emails/edit", {
        "index": "0", "email_address": "desk@example.org",
        "email_type": "personal"}).status_code == 303
    assert stored(site, "jdoe").identifiers[0].value == "39001-0042"  # hidden, kept
    assert refused(site.post("/staff/users/manager/notes/edit", {
        "index": "0", "note_type": "GENERAL", "note_text": "changed"}))
    assert stored(site, "manager").notes[0].note_text == "staff note"


# -- Restore, with real SIS loads -------------------------------------------------------------


@pytest.fixture
def sis(site: Site, database_url: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Any]:
    """``bookplate sis sync FILE -p SIS`` on the site's database, as an operator runs it."""
    with sis_loads(database_url, monkeypatch, tmp_path) as sync:
        yield sync


def test_a_staff_edit_survives_a_sis_load_and_restore_hands_it_back(site: Site, sis: Any) -> None:
    student = user_xml("stu1", first="Sam", last="Student", group="UNDERGRAD",
                       email="sam@uni.example")
    sis(student)
    assert stored(site, "stu1").user_group == "UNDERGRAD"
    site.sign_in("manager")
    page = site.client.get("/staff/users/stu1?open=1").text
    assert 'id="general-form"' in page and 'id="manual-table"' not in page
    r = site.post("/staff/users/stu1/general", {
        "open": "1", "first_name": "Sam", "last_name": "Student", "user_group": "GRAD",
        "status": "ACTIVE"})
    assert r.status_code == 303
    assert stored(site, "stu1").manual_fields == {"user_group": "UNDERGRAD"}
    sis(student)  # the same file again: the staff value is kept
    user = stored(site, "stu1")
    assert (user.user_group, user.manual_fields) == ("GRAD", {"user_group": "UNDERGRAD"})
    page = site.client.get("/staff/users/stu1").text  # read-only view shows it too
    row = re.search(r'<table id="manual-table">.*?</table>', page, re.S)
    assert row is not None
    assert "User group" in row.group(0) and "Graduate" in row.group(0)
    assert "Undergraduate" in row.group(0) and 'id="restore-user_group"' in row.group(0)
    # Changed by hand a second time: stored (sent with override), still marked.
    assert site.post("/staff/users/stu1/general", {
        "open": "1", "first_name": "Sam", "last_name": "Student", "user_group": "FACULTY",
        "status": "ACTIVE"}).status_code == 303
    user = stored(site, "stu1")
    assert (user.user_group, user.manual_fields) == ("FACULTY", {"user_group": "UNDERGRAD"})
    sis(student)
    assert stored(site, "stu1").user_group == "FACULTY"
    r = site.post("/staff/users/stu1/restore", {"field": "user_group"})
    assert (r.status_code, r.headers["location"]) == (
        303, "/staff/users/stu1?tab=general&done=restored")
    user = stored(site, "stu1")
    assert (user.user_group, user.manual_fields) == ("UNDERGRAD", {})
    assert "has the SIS value again" in site.client.get(r.headers["location"]).text
    # Attached again: the SIS's next value is taken.
    sis(user_xml("stu1", first="Sam", last="Student", group="GRAD", email="sam@uni.example"))
    assert stored(site, "stu1").user_group == "GRAD"
    assert site.container.users.history("MAIN", "stu1")[0].action == "sis.update"
    # Nothing to restore any more: a clear page, nothing changed.
    assert refused(site.post("/staff/users/stu1/restore", {"field": "user_group"}), 400)
    assert refused(site.post("/staff/users/stu1/restore", {"field": "password"}), 400)


def test_restore_is_refused_to_whoever_may_not_edit(site: Site, sis: Any) -> None:
    sis(user_xml("stu2", group="UNDERGRAD"))
    site.sign_in("manager")
    assert site.post("/staff/users/stu2/general", {
        "open": "1", "first_name": "Ann", "last_name": "Lee", "user_group": "GRAD",
        "status": "ACTIVE"}).status_code == 303
    site.sign_in("patron")
    r = site.client.post("/staff/users/stu2/restore", data={"field": "user_group"})
    assert refused(r)
    assert stored(site, "stu2").user_group == "GRAD"


# -- Proxy for ---------------------------------------------------------------------------------


def test_proxy_for_is_added_edited_and_removed(site: Site) -> None:
    site.sign_in("manager")
    page = site.client.get("/staff/users/jdoe?tab=proxy").text
    assert 'id="proxy-add"' in page
    r = site.post("/staff/users/jdoe/proxy/add", {"proxy_user": "BC-patron",
                                                  "proxy_type": "FAMILY"})
    assert r.status_code == 303, r.text
    proxies = stored(site, "jdoe").proxy_for
    assert [(p.primary_id, p.full_name, p.proxy_type) for p in proxies] == [
        ("patron", "Patron Person", "FAMILY")]
    page = site.client.get("/staff/users/jdoe?tab=proxy").text
    assert '<a href="/staff/users/patron">patron</a>' in page
    r = site.post("/staff/users/jdoe/proxy/add", {"proxy_user": "patron"})
    assert r.status_code == 400 and 'id="error-proxy-add"' in r.text  # already there
    r = site.post("/staff/users/jdoe/proxy/add", {"proxy_user": "jdoe"})
    assert r.status_code == 400  # oneself
    r = site.post("/staff/users/jdoe/proxy/add", {"proxy_user": "nobody"})
    assert r.status_code == 400 and "No user has the primary ID or identifier nobody" in r.text
    assert site.post("/staff/users/jdoe/proxy/edit", {
        "index": "0", "proxy_user": "patron", "proxy_type": "CARER"}).status_code == 303
    assert stored(site, "jdoe").proxy_for[0].proxy_type == "CARER"
    assert site.post("/staff/users/jdoe/proxy/remove", {"index": "0"}).status_code == 303
    assert stored(site, "jdoe").proxy_for == []
    assert site.container.users.history("MAIN", "jdoe")[0].actor == "staff:manager"


def test_proxy_for_follows_the_edit_policy(site: Site) -> None:
    site.sign_in("desk")
    # A desk operator may edit patrons, not staff records (as on the API).
    assert site.post("/staff/users/jdoe/proxy/add", {"proxy_user": "patron"}).status_code == 303
    assert refused(site.post("/staff/users/manager/proxy/add", {"proxy_user": "patron"}))
    assert stored(site, "manager").proxy_for == []
    page = site.client.get("/staff/users/manager?tab=proxy").text
    assert 'id="proxy-add"' not in page and 'id="proxy-table"' in page
    identifiers = [Identifier("BARCODE", "39001-0042")]
    assert stored(site, "jdoe").identifiers == identifiers  # the desk's write kept them


# -- bad input on every form -------------------------------------------------------------------


def test_field_errors_are_shown_beside_their_field(site: Site) -> None:
    site.sign_in("manager")
    r = site.post("/staff/users/jdoe/general", {"last_name": "Doe", "user_group": "NOPE",
                                                "status": "ACTIVE"})
    assert r.status_code == 400
    assert re.search(r'<select id="f-user_group" name="user_group" aria-invalid="true" '
                     r'aria-describedby="error-general-user_group">', r.text)
    # The message also names the code table and how to add the code (docs/operations.md).
    assert 'id="error-general-user_group">Given user group type (NOPE) is invalid. Code table' \
        in r.text
    assert r.text.count('aria-invalid="true"') == 1  # that field only
    r = site.post("/staff/users/jdoe/identifiers/add", {"id_type": "BARCODE", "value": "BC-gsa"})
    assert 'id="error-identifiers-add-value">User with identifier BC-gsa' in r.text
    r = site.post("/staff/users/jdoe/emails/add", {"email_address": "not an address",
                                                   "email_type": "personal"})
    assert 'id="error-emails-add-email_address">Given field email_address' in r.text
    r = site.post("/staff/users/jdoe/notes/add", {"note_type": "NOPE", "note_text": "x"})
    assert 'id="error-notes-add-note_type">Given note type (NOPE) is invalid.' in r.text
    r = site.post("/staff/users/new", {"record_type": "PUBLIC", "primary_id": "jdoe",
                                       "last_name": "X", "user_group": "GRAD"})
    assert 'id="error-new-primary_id"' in r.text and 'id="error"' in r.text
    r = site.post("/staff/users/new", {"record_type": "PUBLIC", "primary_id": "n1",
                                       "last_name": "X", "user_group": "GRAD",
                                       "barcode": "39001-0042"})
    assert 'id="error-new-barcode"' in r.text
    # A rule about the record as a whole stays at the top of its form only.
    r = site.post("/staff/users/jdoe/phones/add", {"phone_number": "1", "phone_type": "NOPE"})
    assert 'id="error-phones-add-phone_type"' in r.text


def test_no_staff_form_answers_500_on_bad_input(site: Site) -> None:
    from tests.functional.form_fuzz import fuzz, post_forms

    c = site.container
    full(site, "jdoe",
         phones=[Phone("+1 555 0100", ["mobile"])], addresses=[Address(line1="1 Road")],
         notes=[Note("GENERAL", "n")], blocks=[Block("GENERAL", "LOST_CARD", "ACTIVE")],
         statistics=[Statistic("LOCAL")])
    c.users.create("MAIN", UserInput(User(
        "ext1", account_type="EXTERNAL", external_id="SIS", last_name="Ernal",
        user_group="UNDERGRAD")), "sis")
    ext = stored(site, "ext1")
    ext.user_group = "GRAD"
    c.users.replace("MAIN", "ext1", UserInput(ext), "staff:test")  # changed by hand
    assert stored(site, "ext1").manual_fields
    site.sign_in("gsa")
    urls = ["/staff/users/new", "/staff/users/jdoe/delete", "/staff/users/ext1?open=1"]
    for tab in ("general", "contact", "identifiers", "roles", "notes", "blocks",
                "statistics", "proxy"):
        urls.append(f"/staff/users/jdoe?tab={tab}")
    for edit in ("emails-0", "phones-0", "addresses-0"):
        urls.append(f"/staff/users/jdoe?tab=contact&edit={edit}")
    for kind in ("identifiers", "notes", "blocks", "statistics"):
        urls.append(f"/staff/users/jdoe?tab={kind}&edit={kind}-0")
    forms = post_forms(site.client, urls)
    # Every staff write route is among the forms found.
    from bookplate.web.staff import home, record, roles_tab, search, segments

    routes = {r.path for module in (home, record, roles_tab, search, segments)  # type: ignore[attr-defined]
              for r in module.router.routes if "POST" in getattr(r, "methods", ())}
    kinds = ("emails", "phones", "addresses", "identifiers", "notes", "blocks", "statistics",
             "proxy")
    covered = set()
    for form in forms:
        tail = form.action.split("/", 4)[-1]  # after /staff/users/<id>
        for route in routes:
            pattern = route.split("{user_id:path}/")[-1]
            if pattern == tail or (pattern.startswith("{kind}/") and tail.split("/")[0] in
                                   kinds and tail.split("/")[-1] == pattern.split("/")[-1]):
                covered.add(route)
        if form.action == "/staff/users/new":
            covered.add("/staff/users/new")
    assert covered == routes, routes - covered
    actions = {f.action for f in forms}
    assert {f"/staff/users/jdoe/{k}/edit" for k in kinds if k != "proxy"} <= actions
    problems = fuzz(site.client, forms, site.csrf())
    assert problems == []
    # Nothing half-written: every record still reads back and passes the record rules.
    for primary_id in ("jdoe", "ext1", "gsa", "manager"):
        user = stored(site, primary_id)
        assert site.client.get(f"/staff/users/{user.primary_id}").status_code == 200
    assert site.container.users.get("MAIN", "gsa").roles[0].role_type == "26"
