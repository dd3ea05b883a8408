"""``/staff/admin/libraries``: libraries and circulation desks through create_app on SQLite and
PostgreSQL -- list, add, edit, disable and enable, desks added, renamed and disabled, the audit
row, the configuration API seeing the change, bad input and the 403s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bookplate.keys.services import parse_areas
from bookplate.roles.model import Library
from tests.functional.staff_pages import Site, site_for

BASE = "/staff/admin/libraries"


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def library(site: Site, code: str) -> Library | None:
    return site.container.roles.config("MAIN").libraries.get(code)


def test_add_edit_disable_and_desks(site: Site) -> None:
    site.sign_in("useradmin")
    assert 'href="/staff/admin/libraries"' in site.client.get("/staff/admin/codes").text
    listing = site.client.get(BASE)
    assert listing.status_code == 200 and 'id="library-LIB_A"' in listing.text
    r = site.post(BASE, {"code": "LAW", "name": "Law Library", "description": "South campus"})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{BASE}/LAW?saved=LAW")
    law = library(site, "LAW")
    assert law is not None and (law.name, law.description, law.enabled) == (
        "Law Library", "South campus", True)

    assert site.post(f"{BASE}/LAW/desks", {"code": "LAW_DESK", "name": "Loans",
                                           "enabled": "1"}).status_code == 303
    assert site.post(f"{BASE}/LAW/desks", {"code": "RESERVE", "name": "",
                                           "enabled": "1"}).status_code == 303
    assert site.post(f"{BASE}/LAW/desks", {"code": "LAW_DESK", "name": "Loans and returns"}
                     ).status_code == 303  # renamed, and the unticked box disables it
    law = library(site, "LAW")
    assert law is not None
    assert [(d.code, d.name, d.enabled) for d in law.all_desks()] == [
        ("LAW_DESK", "Loans and returns", False), ("RESERVE", "RESERVE", True)]
    page = site.client.get(f"{BASE}/LAW").text
    assert 'id="desk-LAW_DESK"' in page and "Loans and returns" in page

    assert site.post(f"{BASE}/LAW", {"name": "Law Faculty Library", "description": ""}
                     ).status_code == 303  # enabled unticked: disabled
    law = library(site, "LAW")
    assert law is not None and (law.name, law.description, law.enabled) == (
        "Law Faculty Library", "", False)
    assert law.desks == {"LAW_DESK", "RESERVE"}  # desks kept

    # the configuration API leaves the disabled library out; enabling brings it back
    _, key = site.container.keys.create("MAIN", "conf", parse_areas(["conf:ro"]))
    conf = site.client.get("/almaws/v1/conf/libraries",
                           headers={"Authorization": f"apikey {key}", "Accept": "application/json"})
    assert "LAW" not in {lib["code"] for lib in conf.json()["library"]}
    assert site.post(f"{BASE}/LAW", {"name": "Law Faculty Library", "enabled": "1"}
                     ).status_code == 303
    desks = site.client.get("/almaws/v1/conf/libraries/LAW/circ-desks",
                            headers={"Authorization": f"apikey {key}",
                                     "Accept": "application/json"}).json()
    assert [d["code"] for d in desks["circ_desk"]] == ["RESERVE"]  # the disabled desk is not

    with site.container.uow_factory() as uow:
        logged = uow.roles.history("MAIN", "library:LAW")
    assert len(logged) == 6 and {h["actor"] for h in logged} == {"staff:useradmin"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "two words", "name": "X"}, "without spaces"),
        ({"code": "X" * 65, "name": "X"}, "too long"),
        ({"code": "OK", "name": ""}, "needs a name"),
        ({"code": "OK", "name": "a\x00b"}, "invalid value"),
        ({"code": "OK", "name": "N" * 300}, "too long"),
        ({"code": "LIB_A", "name": "Again"}, "exists already"),
        ({"code": "<script>alert(1)</script>", "name": "X"}, "without spaces"),
    ],
)
def test_bad_input_is_refused_with_the_reason(site: Site, data: dict[str, str],
                                              message: str) -> None:
    site.sign_in("gsa")
    before = site.container.roles.config("MAIN").libraries
    r = site.post(BASE, data)
    assert r.status_code == 400, r.text
    assert message in r.text and "<script>alert" not in r.text
    assert site.container.roles.config("MAIN").libraries == before  # nothing written


def test_bad_desk_input_and_unknown_libraries(site: Site) -> None:
    site.sign_in("gsa")
    r = site.post(f"{BASE}/LIB_A/desks", {"code": "", "name": "x", "enabled": "1"})
    assert r.status_code == 400 and 'id="form-error"' in r.text
    r = site.post(f"{BASE}/LIB_A/desks", {"code": "D D", "name": "x", "enabled": "1"})
    assert r.status_code == 400 and "without spaces" in r.text
    a = library(site, "LIB_A")
    assert a is not None and a.desks == {"DESK_A"}
    assert refused(site.client.get(f"{BASE}/NOPE"), 404)
    assert refused(site.post(f"{BASE}/NOPE", {"name": "x", "enabled": "1"}), 404)
    assert refused(site.post(f"{BASE}/NOPE/desks", {"code": "D", "enabled": "1"}), 404)
    assert refused(site.client.get(f"{BASE}/bad%20code"), 404)


def test_a_user_manager_a_patron_and_a_form_without_csrf_are_refused(site: Site) -> None:
    for who in ("manager", "patron"):
        site.sign_in(who)
        assert refused(site.client.get(BASE)), who
        assert refused(site.client.get(f"{BASE}/LIB_A")), who
    site.sign_in("manager")  # a staff member with a session and its CSRF token
    assert refused(site.post(BASE, {"code": "SNEAK", "name": "x"}))
    assert refused(site.post(f"{BASE}/LIB_A", {"name": "x"}))
    assert refused(site.post(f"{BASE}/LIB_A/desks", {"code": "SNEAK", "enabled": "1"}))
    assert library(site, "SNEAK") is None
    a = library(site, "LIB_A")
    assert a is not None and a.name == "Library A"
    site.sign_in("useradmin")
    r = site.client.post(BASE, data={"code": "NOCSRF", "name": "x"})
    assert refused(r)
    assert library(site, "NOCSRF") is None
