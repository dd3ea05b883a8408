"""Patron self-service at /me through create_app on SQLite and PostgreSQL: the own record,
contact changes (internal segments, kept by a real ``bookplate sis sync``), the institution's
setting, password change, the data export, sign out everywhere, CSRF and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookplate.users.model import (
    Block,
    Identifier,
    Note,
    ProxyFor,
    SegmentType,
    User,
    UserInput,
)
from tests.functional.staff_pages import CSRF, PASSWORD, Site, sis_loads, site_for
from tests.integration.sis.helpers import user_xml


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def stored(site: Site, primary_id: str) -> User:
    return site.container.users.get("MAIN", primary_id)


def csrf(client: TestClient) -> str:
    found = CSRF.search(client.get("/me").text)
    assert found is not None
    return found.group(1)


def post(site: Site, url: str, data: dict[str, str], client: TestClient | None = None) -> Any:
    client = client or site.client
    return client.post(url, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def as_session(site: Site, primary_id: str, method: str = "saml") -> None:
    """Signed in as ``primary_id`` by an external method (the session a SAML, CAS or OIDC
    sign-in starts), in the site's client."""
    token, _ = site.container.auth.start_session(stored(site, primary_id), method)
    site.client.cookies.clear()
    site.client.cookies.set("bp_session", token)


def test_sign_in_sends_a_patron_to_me_and_me_needs_a_session(site: Site) -> None:
    r = site.client.get("/me", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/auth/login?next=/me")
    site.sign_in("patron")
    assert site.landing == "/me"
    assert site.client.get("/me").status_code == 200
    site.sign_in("manager")  # staff land on the staff pages, and have a /me page too
    assert site.landing == "/staff/"
    assert 'id="welcome">Manager Person<' in site.client.get("/me").text


def test_the_own_record_shows_what_the_patron_may_see(site: Site) -> None:
    c = site.container
    user = stored(site, "patron")
    user.expiry_date = datetime(2031, 8, 31, tzinfo=UTC).date()
    user.identifiers.append(Identifier("UNIV_ID", "U-123456789"))
    user.identifiers.append(Identifier("UNIV_ID", "OLD-1", status="INACTIVE"))
    user.notes = [Note("GENERAL", "Your books are ready", user_viewable=True),
                  Note("GENERAL", "Staff only: difficult", user_viewable=False)]
    user.blocks = [Block("GENERAL", "LOST_CARD", "ACTIVE", "staff text"),
                   Block("GENERAL", "OVERDUE", "INACTIVE")]
    user.proxy_for = [ProxyFor("jdoe", "José Doe-Müller", "FAMILY")]
    c.users.replace("MAIN", "patron", UserInput(user), "test")
    site.sign_in("patron")
    page = site.client.get("/me").text
    assert 'id="primary-id">patron<' in page and 'id="user-group">Undergraduate<' in page
    assert "2031-08-31" in page
    assert "BC-patron" in page  # the library card is shown (Settings.patron_visible_id_types)
    assert "U-123456789" not in page and "•••••••6789" in page  # masked
    assert "OLD-1" not in page  # inactive identifiers are not listed
    assert "Your books are ready" in page and "Staff only" not in page
    assert "Lost card" in page
    assert "Overdue items" not in page and "staff text" not in page
    assert "José Doe-Müller (FAMILY)" in page


@pytest.fixture
def sis(site: Site, database_url: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Any]:
    with sis_loads(database_url, monkeypatch, tmp_path) as sync:
        yield sync


def test_own_contact_changes_are_internal_and_survive_a_sis_load(site: Site, sis: Any) -> None:
    student = user_xml("stu1", first="Sam", last="Student", email="sam@uni.example")
    sis(student)
    as_session(site, "stu1")
    page = site.client.get("/me").text
    assert "sam@uni.example" in page and 'id="emails-edit-0"' not in page  # the SIS's
    r = post(site, "/me/phones/add", {"phone_number": "+47 400 00 000", "phone_type": "mobile",
                                      "preferred": "1"})
    assert (r.status_code, r.headers["location"]) == (303, "/me?done=add#phones")
    r = post(site, "/me/emails/add", {"email_address": "sam@home.example",
                                      "email_type": "personal", "preferred": "1"})
    assert r.status_code == 303
    user = stored(site, "stu1")
    assert [(e.email_address, e.segment_type, e.preferred) for e in user.contact_info.emails] == [
        ("sam@uni.example", SegmentType.EXTERNAL, False),
        ("sam@home.example", SegmentType.INTERNAL, True)]
    assert user.contact_info.phones[0].segment_type == SegmentType.INTERNAL
    assert user.last_modified_by == "self:stu1"
    assert site.container.users.history("MAIN", "stu1")[0].actor == "self:stu1"
    # The SIS's entries stay as the SIS sent them.
    r = post(site, "/me/emails/edit", {"index": "0", "email_address": "x@uni.example"})
    assert r.status_code == 403 and "This entry comes from your institution" in r.text
    assert post(site, "/me/emails/remove", {"index": "0"}).status_code == 403
    sis(student)  # the same file again
    user = stored(site, "stu1")
    assert [e.email_address for e in user.contact_info.emails] == [
        "sam@uni.example", "sam@home.example"]
    assert [p.phone_number for p in user.contact_info.phones] == ["+47 400 00 000"]
    # The patron's own entries are edited and removed.
    r = post(site, "/me/phones/edit", {"index": "0", "phone_number": "+47 411 11 111",
                                       "phone_type": "mobile"})
    assert r.status_code == 303
    assert stored(site, "stu1").contact_info.phones[0].phone_number == "+47 411 11 111"
    page = site.client.get("/me?edit=phones-0").text
    assert 'id="phones-edit"' in page and 'value="+47 411 11 111"' in page
    assert post(site, "/me/phones/remove", {"index": "0"}).status_code == 303
    assert stored(site, "stu1").contact_info.phones == []


def test_the_institution_decides_which_contact_fields(site: Site) -> None:
    site.sign_in("patron")
    r = post(site, "/me/addresses/add", {"line1": "1 Main St", "city": "Oslo"})
    assert r.status_code == 403 and "does not let you change this" in r.text
    assert 'id="addresses-add"' not in site.client.get("/me").text
    assert stored(site, "patron").contact_info.addresses == []
    # BOOKPLATE_PATRON_CONTACT_FIELDS='["addresses"]'
    site.container.settings.patron_contact_fields = ["addresses"]
    assert 'id="addresses-add"' in site.client.get("/me").text
    r = post(site, "/me/addresses/add", {"line1": "1 Main St", "city": "Oslo",
                                         "address_type": "home"})
    assert r.status_code == 303
    assert stored(site, "patron").contact_info.addresses[0].city == "Oslo"
    r = post(site, "/me/emails/add", {"email_address": "p@example.org"})
    assert r.status_code == 403
    assert stored(site, "patron").contact_info.emails == []


def test_service_errors_are_shown_beside_the_field(site: Site) -> None:
    site.sign_in("patron")
    r = post(site, "/me/emails/add", {"email_address": "not an address",
                                      "email_type": "personal"})
    assert r.status_code == 400
    assert 'id="error-emails-add-email_address">Given field email_address' in r.text
    assert 'aria-describedby="error-emails-add-email_address"' in r.text
    r = post(site, "/me/phones/add", {"phone_number": "1", "phone_type": "NOPE"})
    assert 'id="error-phones-add-phone_type">Given phone type (NOPE) is invalid.' in r.text
    assert stored(site, "patron").contact_info.emails == []


def test_password_change_asks_the_current_one(site: Site) -> None:
    site.sign_in("patron")
    other = TestClient(site.client.app)
    token, _ = site.container.auth.start_session(stored(site, "patron"), "local")
    other.cookies.set("bp_session", token)
    assert other.get("/me").status_code == 200
    new = "a-new-long-passphrase-7"
    r = post(site, "/me/password", {"current_password": "wrong", "new_password": new,
                                    "confirm": new})
    assert r.status_code == 400 and "current password is not right" in r.text
    r = post(site, "/me/password", {"current_password": PASSWORD, "new_password": "short",
                                    "confirm": "short"})
    assert r.status_code == 400 and "at least 8 characters" in r.text
    r = post(site, "/me/password", {"current_password": PASSWORD, "new_password": new,
                                    "confirm": new + "x"})
    assert r.status_code == 400 and "differ" in r.text
    r = post(site, "/me/password", {"current_password": PASSWORD, "new_password": new,
                                    "confirm": new})
    assert (r.status_code, r.headers["location"]) == (303, "/me?done=password")
    assert site.client.get("/me").status_code == 200  # this session goes on
    assert other.get("/me", follow_redirects=False).status_code == 303  # the other ended
    assert site.container.auth.password_login("MAIN", "patron", new).primary_id == "patron"


def test_external_users_have_no_local_password(site: Site, sis: Any) -> None:
    sis(user_xml("stu1"))
    as_session(site, "stu1", "cas")
    page = site.client.get("/me/password").text
    assert 'id="no-local-password"' in page and 'id="password-form"' not in page
    r = post(site, "/me/password", {"current_password": "x" * 10, "new_password": "y" * 12,
                                    "confirm": "y" * 12})
    assert r.status_code == 400 and 'id="no-local-password"' in r.text
    assert not site.container.users.check_password("MAIN", "stu1", "primary_id", "y" * 12)


def test_data_export_json_and_readable(site: Site) -> None:
    user = stored(site, "patron")
    user.pin_number = "4711"
    site.container.users.replace("MAIN", "patron", UserInput(user), "test")
    site.sign_in("patron")
    post(site, "/me/emails/add", {"email_address": "pat@example.org", "email_type": "personal"})
    r = site.client.get("/me/data.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == (
        'attachment; filename="my-library-data-patron.json"')
    data = json.loads(r.content)
    assert data["user"]["primary_id"] == "patron"
    assert data["user"]["contact_info"]["email"][0]["email_address"] == "pat@example.org"
    assert data["user"]["user_identifier"][0]["value"] == "BC-patron"
    assert "argon2" not in r.text and data["user"].get("password", "") == ""  # no secret
    assert "4711" not in r.text and "pin_number" not in data["user"]
    assert data["history"][0]["by"] == "self:patron"
    page = site.client.get("/me/data").text
    assert "pat@example.org" in page and "Undergraduate" in page and "self:patron" in page


def test_sign_out_everywhere(site: Site) -> None:
    site.sign_in("patron")
    other = TestClient(site.client.app)
    token, _ = site.container.auth.start_session(stored(site, "patron"), "oidc")
    other.cookies.set("bp_session", token)
    token2, _ = site.container.auth.start_session(stored(site, "jdoe"), "local")
    r = post(site, "/me/sign-out-everywhere", {})
    assert (r.status_code, r.headers["location"]) == (303, "/auth/login")
    assert site.client.get("/me", follow_redirects=False).status_code == 303
    assert other.get("/me", follow_redirects=False).status_code == 303
    assert site.container.auth.session(token2) is not None  # someone else's stays


def test_every_me_form_needs_the_csrf_token_and_survives_bad_input(site: Site) -> None:
    from tests.functional.form_fuzz import fuzz, post_forms

    site.sign_in("patron")
    for url, data in (("/me/emails/add", {"email_address": "a@example.org"}),
                      ("/me/sign-out-everywhere", {}),
                      ("/me/password", {"current_password": PASSWORD, "new_password": "x" * 12,
                                        "confirm": "x" * 12})):
        for token in (None, "forged"):
            sent = {**data, **({"csrf_token": token} if token else {})}
            r = site.client.post(url, data=sent, follow_redirects=False)
            assert r.status_code == 403 and 'id="refused"' in r.text, url
    assert stored(site, "patron").contact_info.emails == []
    assert post(site, "/me/emails/add", {"email_address": "a@example.org"}).status_code == 303
    assert post(site, "/me/phones/add", {"phone_number": "+1 555 0100"}).status_code == 303
    for junk in ("/me/robots/add", "/me/identifiers/add", "/me/addresses/remove"):
        r = post(site, junk, {"index": "0"})
        assert r.status_code in (400, 403, 404) and 'id="refused"' in r.text, junk
    urls = ["/me", "/me/password", "/me?edit=emails-0", "/me?edit=phones-0"]
    forms = [f for f in post_forms(site.client, urls)
             if f.action != "/me/sign-out-everywhere"]
    actions = {f.action for f in forms}
    assert {"/me/emails/add", "/me/emails/edit", "/me/emails/remove", "/me/phones/add",
            "/me/phones/edit", "/me/password", "/auth/logout"} <= actions
    problems = fuzz(site.client, forms, csrf(site.client))
    assert problems == []
    assert stored(site, "patron").contact_info.emails[0].email_address  # still readable
