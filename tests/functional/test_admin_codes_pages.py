"""``/staff/admin/codes``: code tables through create_app on SQLite and PostgreSQL — add,
edit, disable, defaults, user groups per record type in the same form, the history row, and
the 403s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bookplate.users.model import User, UserInput
from tests.functional.staff_pages import Site, site_for

BASE = "/staff/admin/codes"


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def rows(site: Site, table: str) -> dict[str, tuple[str, bool, bool]]:
    with site.container.uow_factory() as uow:
        return {r.code: (r.description, r.enabled, r.default)
                for r in uow.codes.rows("MAIN", table)}


def test_a_new_user_group_is_usable_at_once_for_the_record_types_chosen(site: Site) -> None:
    site.sign_in("useradmin")
    assert 'id="menu-user-management-configuration"' in site.client.get("/staff/").text
    assert 'href="/staff/admin/codes/UserGroups"' in site.client.get(BASE).text
    r = site.post(f"{BASE}/UserGroups", {"code": "ALUMNI", "description": "Alumni",
                                         "enabled": "1", "record_type": "PUBLIC"})
    assert r.status_code == 303, r.text
    assert rows(site, "UserGroups")["ALUMNI"] == ("Alumni", True, False)
    # One form was enough: a PUBLIC user can be given the group at once.
    site.container.users.create("MAIN", UserInput(User("al1", last_name="Al",
                                                       user_group="ALUMNI")), "test")
    page = site.client.get(r.headers["location"]).text
    assert "The code ALUMNI was saved." in page and 'id="t' in page
    with site.container.uow_factory() as uow:
        logged = uow.roles.history("MAIN", "code:UserGroups:ALUMNI")
    assert logged and logged[0]["actor"] == "staff:useradmin"
    assert logged[0]["detail"]["record_types"] == ["PUBLIC"]


def test_a_group_for_no_record_type_is_refused_with_the_reason(site: Site) -> None:
    site.sign_in("gsa")
    r = site.post(f"{BASE}/UserGroups", {"code": "NOBODY", "description": "Nobody",
                                         "enabled": "1"})
    assert r.status_code == 400 and 'id="form-error"' in r.text
    assert "at least one record type" in r.text
    assert "NOBODY" not in rows(site, "UserGroups")


def test_edit_disable_and_the_single_default(site: Site) -> None:
    site.sign_in("gsa")
    before = rows(site, "NoteTypes")
    assert "GENERAL" in before
    assert site.post(f"{BASE}/NoteTypes", {"code": "LOAN", "description": "Loans",
                                           "enabled": "1", "default": "1"}).status_code == 303
    assert site.post(f"{BASE}/NoteTypes", {"code": "GENERAL", "description": "General note",
                                           "enabled": "1", "default": "1"}).status_code == 303
    after = rows(site, "NoteTypes")
    assert after["GENERAL"] == ("General note", True, True)
    assert after["LOAN"] == ("Loans", True, False)  # one default a table
    assert [c for c, (_, _, d) in after.items() if d] == ["GENERAL"]
    assert site.post(f"{BASE}/NoteTypes", {"code": "LOAN", "description": "Loans"}
                     ).status_code == 303  # the boxes unticked: disabled
    assert rows(site, "NoteTypes")["LOAN"] == ("Loans", False, False)
    assert "LOAN" not in site.container.users.code_book("MAIN").tables["NoteTypes"]
    r = site.post(f"{BASE}/NoteTypes", {"code": "LOAN", "description": "Loans",
                                        "default": "1"})
    assert r.status_code == 400 and "cannot be the default" in r.text
    r = site.post(f"{BASE}/NoteTypes", {"code": "two words", "description": "x",
                                        "enabled": "1"})
    assert r.status_code == 400 and "without spaces" in r.text
    r = site.post(f"{BASE}/NoteTypes", {"code": "X", "description": "x", "enabled": "1",
                                        "record_type": "PUBLIC"})
    assert r.status_code == 303  # record types apply to user groups only: ignored here
    assert rows(site, "NoteTypes")["X"] == ("x", True, False)
    assert refused(site.client.get(f"{BASE}/NoSuchTable"), 404)
    assert refused(site.post(f"{BASE}/NoSuchTable", {"code": "A", "description": "a",
                                                     "enabled": "1"}), 404)
    assert refused(site.client.get(f"{BASE}/bad%20name"), 404)


def test_a_user_manager_and_a_patron_are_refused(site: Site) -> None:
    for who in ("manager", "patron"):
        site.sign_in(who)
        assert refused(site.client.get(BASE)), who
        assert refused(site.client.get(f"{BASE}/UserGroups")), who
    site.sign_in("manager")
    r = site.post(f"{BASE}/UserGroups", {"code": "SNEAK", "description": "x", "enabled": "1",
                                         "record_type": "PUBLIC"})
    assert refused(r)
    assert "SNEAK" not in rows(site, "UserGroups")
    r = site.client.post(f"{BASE}/UserGroups", data={"code": "SNEAK", "description": "x"})
    assert refused(r)
