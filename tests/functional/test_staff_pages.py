"""The staff pages through create_app on SQLite and PostgreSQL: menus and 403s per role (GET
and direct POST), find users, the record's tabs and their writes through the staff services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from bookplate.roles.model import ProfileRole, RoleProfile
from bookplate.users.model import ContactInfo, Email, Note, SegmentType, User, UserInput
from tests.functional.staff_pages import Site, site_for


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def menus(site: Site) -> list[str]:
    page = site.client.get("/staff/")
    assert page.status_code == 200, page.text
    return re.findall(r'id="menu-([a-z-]+)"', page.text)


def stored(site: Site, primary_id: str) -> User:
    return site.container.users.get("MAIN", primary_id)


# -- landing, menus, 403 ----------------------------------------------------------------------


def test_sign_in_sends_staff_to_the_staff_pages_and_patrons_to_their_page(site: Site) -> None:
    for who in ("gsa", "useradmin", "manager", "desk"):
        site.sign_in(who)
        assert site.landing == "/staff/", who
    site.sign_in("patron")
    assert site.landing == "/me"


def test_menus_are_the_capabilities_of_each_role(site: Site) -> None:
    site.sign_in("manager")
    assert menus(site) == ["users", "roles"]
    site.sign_in("useradmin")
    assert menus(site) == ["users", "roles", "user-management-configuration", "sis-jobs"]
    site.sign_in("desk")
    assert menus(site) == ["users"]
    home = site.client.get("/staff/").text
    assert "Circulation Desk Operator" in home and "LIB_A" in home


def test_a_patron_never_reaches_the_staff_pages(site: Site) -> None:
    site.sign_in("patron")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', site.client.get("/auth/me").text)
    assert csrf is not None
    for url in ("/staff/", "/staff/users", "/staff/users/jdoe", "/staff/users/new"):
        assert refused(site.client.get(url)), url
    posted = site.client.post("/staff/users/jdoe/notes/add", data={
        "csrf_token": csrf.group(1), "note_type": "GENERAL", "note_text": "sneaky"})
    assert refused(posted)
    assert stored(site, "jdoe").notes == []


def test_without_a_session_the_pages_ask_to_sign_in(site: Site) -> None:
    r = site.client.get("/staff/users/jdoe", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/auth/login?next=/staff/users/jdoe"


def test_forbidden_pages_and_posts_of_a_desk_operator(site: Site) -> None:
    site.sign_in("desk")
    assert refused(site.client.get("/staff/roles"))
    assert refused(site.client.get("/staff/users/jdoe/delete"))
    # Posting the forms directly is refused by the server too, and changes nothing.
    assert refused(site.post("/staff/users/jdoe/delete", {"confirm": "jdoe"}))
    assert refused(site.post("/staff/users/jdoe/roles/add", {"role_type": "51", "scope": "LIB_A"}))
    assert refused(site.post("/staff/users/manager/notes/add",
                             {"note_type": "GENERAL", "note_text": "x"}))
    assert refused(site.post("/staff/users/new", {"record_type": "STAFF", "primary_id": "s1",
                                                  "last_name": "S", "user_group": "STAFF"}))
    assert stored(site, "jdoe").roles[0].role_type == "200"
    assert stored(site, "manager").notes == []
    page = site.client.get("/staff/users/manager").text
    assert 'id="edit-reason"' in page and "users.edit_staff" in page


def test_a_user_manager_cannot_escalate_or_touch_restricted_accounts(site: Site) -> None:
    site.sign_in("manager")
    roles_page = site.client.get("/staff/users/jdoe?tab=roles").text
    assert "General System Administrator: role 26 grants" in roles_page  # why not offered
    assert '<option value="26">' not in roles_page
    assert refused(site.post("/staff/users/jdoe/roles/add", {"role_type": "26", "scope": "MAIN"}))
    assert [r.role_type for r in stored(site, "jdoe").roles] == ["200"]
    assert refused(site.client.get("/staff/users/gsa/delete"))
    assert refused(site.post("/staff/users/gsa/general", {"first_name": "X", "status": "ACTIVE"}))
    assert stored(site, "gsa").first_name == "Gsa"


def test_every_form_needs_the_session_csrf_token(site: Site) -> None:
    site.sign_in("manager")
    r = site.client.post("/staff/users/jdoe/notes/add",
                         data={"note_type": "GENERAL", "note_text": "x"})
    assert refused(r)
    r = site.client.post("/staff/users/jdoe/notes/add",
                         data={"csrf_token": "forged", "note_type": "GENERAL", "note_text": "x"})
    assert refused(r)
    assert stored(site, "jdoe").notes == []


# -- find users --------------------------------------------------------------------------------


def found(site: Site, query: str) -> list[str]:
    r = site.client.get(f"/staff/users?{query}", follow_redirects=False)
    assert r.status_code == 200, r.text
    return re.findall(r"<tr>\n<td><a href=\"/staff/users/([^\"]+)\"", r.text)


def test_find_by_name_email_id_and_barcode(site: Site) -> None:
    site.sign_in("manager")
    assert found(site, "q=jos") == ["jdoe"]  # the start of a name, accent-insensitive
    assert found(site, "q=MULLER") == ["jdoe"]
    assert found(site, "q=jose@example.org") == ["jdoe"]
    scan = site.client.get("/staff/users?q=39001-0042", follow_redirects=False)
    assert (scan.status_code, scan.headers["location"]) == (303, "/staff/users/jdoe")
    by_id = site.client.get("/staff/users?q=JDOE", follow_redirects=False)
    assert by_id.headers["location"] == "/staff/users/jdoe"
    assert "0 users found" in site.client.get("/staff/users?q=nobody").text
    page = site.client.get("/staff/users?q=doe").text
    assert "Undergraduate" in page  # the group's description, not its code


def test_filters_sorting_and_paging(site: Site) -> None:
    c = site.container
    for n in range(25):
        c.users.create("MAIN", UserInput(User(
            f"reader{n:02d}", first_name=f"Reader{n:02d}", last_name="Zed",
            user_group="GRAD" if n % 2 else "UNDERGRAD",
            status="INACTIVE" if n == 3 else "ACTIVE",
            expiry_date=date(2000, 1, 1) if n == 4 else None)), "t")
    site.sign_in("manager")
    assert set(found(site, "kind=staff")) == {"gsa", "useradmin", "manager", "desk"}
    assert found(site, "q=zed&status=INACTIVE") == ["reader03"]
    assert found(site, "q=zed&expiry=expired") == ["reader04"]
    assert "24 users found" in site.client.get("/staff/users?q=zed&expiry=current").text
    grads = found(site, "q=zed&group=GRAD")
    assert len(grads) == 12 and all(int(p[-2:]) % 2 for p in grads)
    first = found(site, "q=zed&sort=primary_id")
    assert first == [f"reader{n:02d}" for n in range(20)]
    second = site.client.get("/staff/users?q=zed&sort=primary_id&page=2").text
    assert "Page 2 of 2" in second and 'rel="prev"' in second
    assert found(site, "q=zed&sort=primary_id&page=2") == [f"reader{n:02d}" for n in range(20, 25)]
    assert found(site, "q=zed&sort=first_name&page=1")[0] == "reader00"


def test_bad_search_input_gives_a_clear_page(site: Site) -> None:
    site.sign_in("manager")
    for query in ("page=abc", "page=0", "kind=robots", "sort=password", "group=NOPE",
                  "q=" + "x" * 300, "q=%00"):
        r = site.client.get(f"/staff/users?{query}")
        assert refused(r, 400), query


# -- the record: tabs, edits, create, delete ----------------------------------------------------


def test_user_page_tabs_show_code_descriptions(site: Site) -> None:
    site.sign_in("manager")
    for tab in ("general", "contact", "identifiers", "roles", "notes", "blocks",
                "statistics", "proxy", "history"):
        r = site.client.get(f"/staff/users/jdoe?tab={tab}")
        assert r.status_code == 200, (tab, r.text)
        assert f'id="tab-{tab}" href' in r.text and 'aria-current="page">' in r.text
    ids = site.client.get("/staff/users/jdoe?tab=identifiers").text
    assert "39001-0042" in ids and "Barcode" in ids
    assert refused(site.client.get("/staff/users/nobody"), 404)


def test_edits_go_through_the_staff_services_and_are_in_the_history(site: Site) -> None:
    site.sign_in("manager")
    r = site.post("/staff/users/jdoe/general", {
        "first_name": "Josefine", "last_name": "Doe", "user_group": "GRAD",
        "status": "ACTIVE", "expiry_date": "2031-06-30"})
    assert (r.status_code, r.headers["location"]) == (
        303, "/staff/users/jdoe?tab=general&done=saved")
    r = site.post("/staff/users/jdoe/emails/add", {"email_address": "jd@work.example",
                                                   "email_type": "work", "preferred": "1"})
    assert r.status_code == 303
    assert site.post("/staff/users/jdoe/notes/add",
                     {"note_type": "CIRCULATION", "note_text": "Lost card"}).status_code == 303
    assert site.post("/staff/users/jdoe/identifiers/add",
                     {"id_type": "UNIV_ID", "value": "U-77"}).status_code == 303
    assert site.post("/staff/users/jdoe/blocks/add", {
        "block_type": "GENERAL", "block_description": "LOST_CARD"}).status_code == 303
    assert site.post("/staff/users/jdoe/statistics/add",
                     {"statistic_category": "LOCAL"}).status_code == 303
    user = stored(site, "jdoe")
    assert (user.first_name, user.user_group, user.expiry_date) == (
        "Josefine", "GRAD", date(2031, 6, 30))
    emails = user.contact_info.emails
    assert [e.email_address for e in emails] == ["jose@example.org", "jd@work.example"]
    assert [e.preferred for e in emails] == [False, True]  # one preferred address
    assert user.notes[0].note_text == "Lost card" and user.notes[0].created_by == "manager"
    assert [i.value for i in user.identifiers] == ["39001-0042", "U-77"]
    assert user.blocks[0].block_description == "LOST_CARD"
    assert user.statistics[0].statistic_category == "LOCAL"
    assert user.last_modified_by == "staff:manager"
    rows = site.container.users.history("MAIN", "jdoe")
    assert [r.actor for r in rows[:6]] == ["staff:manager"] * 6
    page = site.client.get("/staff/users/jdoe?tab=history").text
    assert page.count("staff:manager") == 6 and "Created" in page
    # Removing an entry.
    assert site.post("/staff/users/jdoe/emails/remove", {"index": "0"}).status_code == 303
    assert [e.email_address for e in stored(site, "jdoe").contact_info.emails] == [
        "jd@work.example"]
    assert refused(site.post("/staff/users/jdoe/emails/remove", {"index": "7"}), 400)


def test_service_errors_are_shown_next_to_the_form(site: Site) -> None:
    site.sign_in("manager")
    r = site.post("/staff/users/jdoe/general", {"last_name": "Doe", "user_group": "NOPE",
                                                "status": "ACTIVE"})
    assert r.status_code == 400
    # The message names the code table and how to add the code (docs/operations.md).
    assert re.search(r'id="error-general">Given user group type \(NOPE\) is invalid\. Code table '
                     r'UserGroups has no such code', r.text)
    r = site.post("/staff/users/jdoe/identifiers/add", {"id_type": "BARCODE", "value": "BC-gsa"})
    assert r.status_code == 400
    assert "User with identifier BC-gsa of type BARCODE already exists." in r.text
    assert 'id="error-identifiers-add"' in r.text
    r = site.post("/staff/users/jdoe/general", {"last_name": "Doe", "expiry_date": "31/12/2030"})
    assert refused(r, 400) and "expiry_date" in r.text
    assert stored(site, "jdoe").user_group == "UNDERGRAD"


def test_create_public_staff_and_contact_users(site: Site) -> None:
    site.sign_in("manager")
    r = site.post("/staff/users/new", {"record_type": "PUBLIC", "primary_id": "newbie",
                                       "first_name": "New", "last_name": "Reader",
                                       "user_group": "GRAD", "email": "new@example.org",
                                       "barcode": "B-1"})
    assert (r.status_code, r.headers["location"]) == (303, "/staff/users/newbie?done=created")
    new = stored(site, "newbie")
    assert new.created_by == "staff:manager" and new.identifiers[0].value == "B-1"
    assert site.post("/staff/users/new", {"record_type": "STAFF", "primary_id": "clerk",
                                          "last_name": "Clerk",
                                          "user_group": "STAFF"}).status_code == 303
    assert stored(site, "clerk").record_type == "STAFF"
    r = site.post("/staff/users/new", {"record_type": "CONTACT", "primary_id": "vendor1",
                                       "last_name": "Vendor", "user_group": "VENDOR",
                                       "email": "sales@vendor.example"})
    assert r.status_code == 303
    page = site.client.get("/staff/users/vendor1").text
    tabs = re.findall(r'id="tab-([a-z]+)" href', page)
    assert tabs == ["general", "contact", "notes", "history"]
    # A contact may hold no identifiers: the service's message, the form kept.
    r = site.post("/staff/users/new", {"record_type": "CONTACT", "primary_id": "vendor2",
                                       "last_name": "V", "user_group": "VENDOR",
                                       "barcode": "X-9"})
    assert r.status_code == 400 and 'id="error"' in r.text and 'value="vendor2"' in r.text
    r = site.post("/staff/users/new", {"record_type": "PUBLIC", "primary_id": "newbie",
                                       "last_name": "Again", "user_group": "GRAD"})
    assert r.status_code == 400 and "already exists" in r.text


def test_a_desk_operator_registers_patrons_and_edits_their_contact(site: Site) -> None:
    site.sign_in("desk")
    r = site.post("/staff/users/new", {"record_type": "PUBLIC", "primary_id": "walkin",
                                       "last_name": "Walk", "user_group": "COMMUNITY"})
    assert r.status_code == 303
    assert site.post("/staff/users/jdoe/phones/add",
                     {"phone_number": "+1 555 0100", "phone_type": "mobile"}).status_code == 303
    assert stored(site, "jdoe").contact_info.phones[0].phone_number == "+1 555 0100"
    assert stored(site, "jdoe").identifiers[0].value == "39001-0042"  # kept, though hidden
    page = site.client.get("/staff/users/jdoe").text
    assert 'id="tab-identifiers"' not in page  # desks see the primary ID only
    hidden = site.client.get("/staff/users/jdoe?tab=identifiers").text
    assert "39001-0042" not in hidden and 'id="general-form"' in hidden  # the General tab


def test_delete_asks_for_confirmation(site: Site) -> None:
    site.sign_in("manager")
    assert "Type the primary ID" in site.client.get("/staff/users/jdoe/delete").text
    r = site.post("/staff/users/jdoe/delete", {"confirm": "wrong"})
    assert r.status_code == 400 and 'id="error"' in r.text
    assert stored(site, "jdoe")
    r = site.post("/staff/users/jdoe/delete", {"confirm": "jdoe"})
    assert (r.status_code, r.headers["location"]) == (303, "/staff/users?deleted=jdoe")
    assert "User jdoe was deleted." in site.client.get(r.headers["location"]).text
    assert refused(site.client.get("/staff/users/jdoe"), 404)
    assert site.container.users.history("MAIN", "jdoe")[0].action == "user.remove"


def test_external_users_are_read_only_until_opened_for_update(site: Site) -> None:
    c = site.container
    c.users.create("MAIN", UserInput(User(
        "ext1", account_type="EXTERNAL", external_id="SIS", first_name="Ext",
        last_name="Ernal", user_group="UNDERGRAD", preferred_language="en",
        contact_info=ContactInfo(
            emails=[Email("ext@uni.example", segment_type=SegmentType.EXTERNAL)]),
        notes=[Note("GENERAL", "from SIS", segment_type=SegmentType.EXTERNAL)])), "sis")
    site.sign_in("manager")
    page = site.client.get("/staff/users/ext1").text
    assert 'id="open-for-update"' in page and 'id="general-form"' not in page
    assert 'class="badge sis">SIS' in page
    r = site.post("/staff/users/ext1/general", {"user_group": "GRAD", "last_name": "Ernal"})
    assert refused(r, 400) and "open the record for update" in r.text
    r = site.post("/staff/users/ext1/emails/remove", {"index": "0"})
    assert refused(r, 400)
    # Internal entries can always be added.
    assert site.post("/staff/users/ext1/notes/add",
                     {"note_type": "GENERAL", "note_text": "desk note"}).status_code == 303
    opened = site.client.get("/staff/users/ext1?open=1").text
    assert 'id="general-form"' in opened and 'name="open" value="1"' in opened
    r = site.post("/staff/users/ext1/general", {
        "open": "1", "first_name": "Ext", "last_name": "Ernal", "user_group": "GRAD",
        "preferred_language": "en", "status": "ACTIVE"})
    assert (r.status_code, r.headers["location"]) == (
        303, "/staff/users/ext1?tab=general&done=saved&open=1")
    user = stored(site, "ext1")
    assert user.user_group == "GRAD"
    assert [n.segment_type for n in user.notes] == [SegmentType.EXTERNAL, SegmentType.INTERNAL]
    assert user.account_type == "EXTERNAL"


# -- roles --------------------------------------------------------------------------------------


def test_roles_tab_add_remove_profile_copy_compare_recalculate(site: Site) -> None:
    c = site.container
    c.roles.put_profile("MAIN", RoleProfile("DESK", "Desk staff", (
        ProfileRole("51", "LIB_B", (("CirculationDesk", "LIB_B", "DESK_B"),)),)), "test")
    c.users.create("MAIN", UserInput(User("clerk", record_type="STAFF", user_group="STAFF",
                                          last_name="Clerk")), "t")
    site.sign_in("manager")
    r = site.post("/staff/users/clerk/roles/add",
                  {"role_type": "32", "scope": "LIB_A", "desk": "LIB_A/DESK_A"})
    assert r.status_code == 303, r.text
    roles = stored(site, "clerk").roles
    assert any(x.role_type == "32" and x.scope == "LIB_A" and x.parameters[0].value == "DESK_A"
               for x in roles)
    assert site.post("/staff/users/clerk/roles/profile", {"profile": "DESK"}).status_code == 303
    assert "51" in {x.role_type for x in stored(site, "clerk").roles}
    assert site.post("/staff/users/clerk/roles/copy", {"source": "BC-manager"}).status_code == 303
    assert "21" in {x.role_type for x in stored(site, "clerk").roles}
    compare = site.client.get("/staff/users/clerk?tab=roles&compare=desk").text
    assert 'id="compare-table"' in compare and "Requests Operator" in compare
    index = [x.role_type for x in stored(site, "clerk").roles].index("51")
    assert site.post("/staff/users/clerk/roles/remove",
                     {"index": str(index)}).status_code == 303
    assert "51" not in {x.role_type for x in stored(site, "clerk").roles}
    assert site.post("/staff/users/clerk/roles/recalculate", {}).status_code == 303
    r = site.post("/staff/users/clerk/roles/copy", {"source": "nobody"})
    assert r.status_code == 400 and 'id="error-roles-copy"' in r.text
    assert refused(site.post("/staff/users/clerk/roles/profile", {"profile": "NOPE"}), 400)
    history = [h.actor for h in c.users.history("MAIN", "clerk")]
    assert history.count("staff:manager") == 5


def test_the_last_role_and_the_last_administrator(site: Site) -> None:
    site.sign_in("gsa")
    r = site.post("/staff/users/gsa/roles/remove", {"index": "0"})
    assert r.status_code == 400 and 'id="error-roles-list"' in r.text
    r = site.post("/staff/users/gsa/delete", {"confirm": "gsa"})
    assert r.status_code == 400 and "at least one active General System Administrator" in r.text
    assert stored(site, "gsa").roles[0].role_type == "26"


def test_no_page_weighs_over_150_kb_on_first_load(site: Site) -> None:
    """HTML plus every file the page loads (all from Bookplate), uncompressed."""
    site.sign_in("manager")
    for n in range(20):
        site.container.users.create("MAIN", UserInput(User(
            f"heavy{n:02d}", first_name="Heavy", last_name=f"Reader {n}",
            user_group="GRAD")), "t")
    for url in ("/staff/", "/staff/users?q=heavy", "/staff/users/jdoe",
                "/staff/users/jdoe?tab=roles", "/staff/users/jdoe?tab=contact",
                "/staff/users/jdoe?tab=history", "/staff/users/new", "/staff/roles"):
        page = site.client.get(url)
        assert page.status_code == 200, url
        assets = re.findall(r'(?:src|href)="(/staff/static/[^"]+)"', page.text)
        assert sorted(assets) == ["/staff/static/htmx.min.js", "/staff/static/staff.css",
                                  "/staff/static/staff.js"]
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)  # no other host
        total = len(page.content) + sum(len(site.client.get(a).content) for a in assets)
        assert total < 150_000, (url, total)
