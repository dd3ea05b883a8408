"""Self-registration through create_app on SQLite and PostgreSQL, with a real SMTP sink:
the form, the mail, the confirmation link (once, not forged, not expired), the staff queue
(approve, merge, reject, the policy), no account enumeration, rate limits, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from bookplate.cli.main import app
from bookplate.config import get_settings
from bookplate.storage import tables as t
from bookplate.users.errors import UserNotFound
from bookplate.users.model import SegmentType, User
from bookplate.users.queries import UserSearch
from tests.functional.form_fuzz import BAD_VALUES
from tests.functional.registration_site import (
    USER_ID,
    Sink,
    prepare,
    registration_settings,
    smtp_sink,
)
from tests.functional.staff_pages import CSRF, Site, site_for

PASSWORD = "Plum-Orchard-Kettle-42"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as found:
        yield found


@pytest.fixture
def site(database_url: str, sink: tuple[Sink, int]) -> Iterator[Site]:
    for made in site_for(database_url, **registration_settings(sink[1])):
        prepare(made.container)
        yield made


def form_csrf(client: TestClient, url: str = "/register") -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def register(site: Site, **fields: str) -> Any:
    client = site.client
    client.cookies.clear()
    data = {"csrf_token": form_csrf(client), "institution": "MAIN", "first_name": "Ada",
            "last_name": "Lovelace", "email": "ada@example.net", "password": PASSWORD,
            "confirm": PASSWORD, **fields}
    return client.post("/register", data=data, follow_redirects=False)


def pending(site: Site) -> list[User]:
    return site.container.users.search(UserSearch("MAIN", user_group="PENDING", limit=50)).users


def confirm(site: Site, link: str) -> Any:
    path = urlsplit(link).path
    client = site.client
    client.cookies.clear()
    token = form_csrf(client, path)
    return client.post(path, data={"csrf_token": token}, follow_redirects=False)


def registered_id(sink: Sink, address: str = "ada@example.net") -> str:
    found = USER_ID.search(sink.last_body(address))
    assert found is not None
    return found.group(1)


def test_off_by_default(database_url: str) -> None:
    for site in site_for(database_url):
        r = site.client.get("/register")
        assert r.status_code == 404 and 'id="closed"' in r.text
        r = site.client.get("/register?institution=MAIN")
        assert r.status_code == 404
        site.client.cookies.set("bp_csrf", "x" * 40)
        r = site.client.post("/register", data={
            "csrf_token": "x" * 40, "institution": "MAIN", "first_name": "A",
            "last_name": "B", "email": "a@example.net", "password": PASSWORD,
            "confirm": PASSWORD})
        assert r.status_code == 404
        assert pending(site) == []
        site.sign_in("manager")
        assert 'id="registrations-link"' not in site.client.get("/staff/").text


def test_register_confirm_approve_and_sign_in(site: Site, sink: tuple[Sink, int]) -> None:
    mails, _ = sink
    c = site.container
    r = register(site)
    assert r.status_code == 200 and 'id="sent"' in r.text
    assert mails.to("ada@example.net")[0]["Subject"] == "Confirm your library registration"
    new_id = registered_id(mails)
    user = c.users.get("MAIN", new_id)
    today = c.auth.now().date()
    assert (user.record_type, user.account_type, user.status, user.user_group) == (
        "PUBLIC", "INTERNAL", "INACTIVE", "PENDING")
    assert user.expiry_date == today + timedelta(days=14)
    assert [(e.email_address, e.segment_type, e.preferred) for e in user.contact_info.emails] == [
        ("ada@example.net", SegmentType.INTERNAL, True)]
    assert user.created_by == "self-registration"
    # Not usable before the address is confirmed.
    assert not c.users.check_password("MAIN", new_id, "all_unique", PASSWORD)

    link = mails.link("ada@example.net")
    page = site.client.get(urlsplit(link).path)  # opening the link changes nothing
    assert page.status_code == 200 and 'id="confirm-email"' in page.text
    assert c.users.get("MAIN", new_id).status == "INACTIVE"
    r = confirm(site, link)
    assert r.status_code == 200 and f'id="new-user-id">{new_id}<' in r.text
    assert c.users.get("MAIN", new_id).status == "ACTIVE"
    # Single use: the same link again, opened or posted, is refused.
    assert site.client.get(urlsplit(link).path).status_code == 400
    site.client.cookies.clear()
    site.client.cookies.set("bp_csrf", "y" * 40)
    again = site.client.post(urlsplit(link).path, data={"csrf_token": "y" * 40})
    assert again.status_code == 400 and "invalid" in again.text

    site.sign_in("manager")
    assert 'href="/staff/registrations"' in site.client.get("/staff/").text
    queue = site.client.get("/staff/registrations")
    assert queue.status_code == 200 and new_id in queue.text and "ada@example.net" in queue.text
    one = site.client.get(f"/staff/registrations/{new_id}")
    assert one.status_code == 200 and 'value="PENDING"' not in one.text  # not offered
    expiry = (today + timedelta(days=365)).isoformat()
    r = site.post(f"/staff/registrations/{new_id}/approve",
                  {"user_group": "COMMUNITY", "expiry_date": expiry})
    assert r.status_code == 303, r.text
    approved = c.users.get("MAIN", new_id)
    assert (approved.user_group, approved.status, approved.expiry_date.isoformat()) == (
        "COMMUNITY", "ACTIVE", expiry)
    assert approved.last_modified_by == "staff:manager"
    actions = [(h.action, h.actor) for h in c.users.history("MAIN", new_id)]
    assert actions[:3] == [("registration.approve", "staff:manager"),
                           ("user.replace", "staff:manager"), ("user.replace", f"self:{new_id}")]
    assert new_id not in site.client.get("/staff/registrations").text
    # The patron signs in with the user ID and the password they chose.
    client = site.client
    client.cookies.clear()
    r = client.post("/auth/login", data={
        "csrf_token": form_csrf(client, "/auth/login"), "institution": "MAIN",
        "username": new_id, "password": PASSWORD, "next": "/auth/me"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/me")
    assert 'id="user-group">Community borrower<' in site.client.get("/me").text


def test_the_answer_does_not_tell_whether_the_address_is_known(site: Site,
                                                                sink: tuple[Sink, int]) -> None:
    mails, _ = sink
    fresh = register(site, email="new@example.net")
    known = register(site, email="jose@example.org")  # jdoe's address
    assert (fresh.status_code, known.status_code) == (200, 200)
    assert fresh.text == known.text
    assert [u.contact_info.emails[0].email_address for u in pending(site)] == ["new@example.net"]
    assert "already has an account" in mails.last_body("jose@example.org")
    # A second registration for an address with a live one makes no second record.
    again = register(site, email="NEW@example.net")
    assert again.text == fresh.text
    assert len(pending(site)) == 1
    assert "registration in progress" in mails.last_body("new@example.net")


def test_forged_and_expired_links(site: Site, sink: tuple[Sink, int]) -> None:
    mails, _ = sink
    register(site)
    link = mails.link("ada@example.net")
    new_id = registered_id(mails)
    for forged in ("/register/confirm/" + "A" * 43, "/register/confirm/x",
                   "/register/confirm/" + "a" * 300, urlsplit(link).path + "x"):
        assert site.client.get(forged).status_code == 400
        site.client.cookies.clear()
        site.client.cookies.set("bp_csrf", "z" * 40)
        r = site.client.post(forged, data={"csrf_token": "z" * 40})
        assert r.status_code == 400 and 'id="refused"' in r.text
    # Without the CSRF pair the real link is refused and stays usable.
    site.client.cookies.clear()
    r = site.client.post(urlsplit(link).path, data={"csrf_token": "nope"})
    assert r.status_code == 403
    assert site.container.users.get("MAIN", new_id).status == "INACTIVE"
    with site.container.engine.begin() as conn:
        conn.execute(update(t.registrations).values(
            link_expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert site.client.get(urlsplit(link).path).status_code == 400
    assert confirm_expired(site, link).status_code == 400
    assert site.container.users.get("MAIN", new_id).status == "INACTIVE"
    # With the link expired, the person may register again: the old record is replaced.
    register(site)
    newer = registered_id(mails)
    assert newer != new_id and [u.primary_id for u in pending(site)] == [newer]
    with pytest.raises(UserNotFound):
        site.container.users.get("MAIN", new_id)


def confirm_expired(site: Site, link: str) -> Any:
    site.client.cookies.clear()
    site.client.cookies.set("bp_csrf", "e" * 40)
    return site.client.post(urlsplit(link).path, data={"csrf_token": "e" * 40})


BAD: list[tuple[dict[str, str], str]] = [
    ({"email": "not-an-address"}, "error-email"),
    ({"email": "a@b"}, "error-email"),
    ({"email": "x" * 250 + "@example.net"}, "error-email"),
    ({"email": "ada@example.net\r\nBcc: victim@example.net"}, "error-email"),
    ({"email": "<script>@example.net"}, "error-email"),
    ({"first_name": ""}, "error-first_name"),
    ({"first_name": "A" * 101}, "error-first_name"),
    ({"last_name": "<script>alert(1)</script>"}, "error-last_name"),
    ({"last_name": "Null\x00Byte"}, "error-last_name"),
    ({"password": "short", "confirm": "short"}, "error-password"),
    ({"password": "password123", "confirm": "password123"}, "error-password"),
    ({"password": "ada-Lovelace-99", "confirm": "ada-Lovelace-99"}, "error-password"),
    ({"confirm": "something-else-entirely"}, "error-confirm"),
    ({"password": "", "confirm": ""}, "error-password"),
]


@pytest.mark.parametrize(("fields", "shown"), BAD)
def test_bad_input_is_a_form_error_and_writes_nothing(site: Site, sink: tuple[Sink, int],
                                                      fields: dict[str, str], shown: str) -> None:
    r = register(site, **fields)
    assert r.status_code == 400, r.text
    assert f'id="{shown}"' in r.text and 'aria-invalid="true"' in r.text
    assert PASSWORD not in r.text  # passwords are never echoed
    assert pending(site) == [] and sink[0].messages == []


def test_injections_huge_fields_wrong_types_and_csrf(site: Site, sink: tuple[Sink, int]) -> None:
    for text in BAD_VALUES:
        for name in ("last_name", "email", "institution", "password"):
            r = register(site, **{name: text})
            assert r.status_code in (200, 400, 404, 429), (name, text, r.status_code)
            assert "Traceback" not in r.text
    assert all(u.contact_info.emails[0].email_address == "ada@example.net"
               for u in pending(site))
    assert len(pending(site)) <= 1
    for name in ("first_name", "email", "password"):
        r = register(site, **{name: "x" * 200_000})
        assert r.status_code == 400 and "too long" in r.text
    # Unknown institution: the same page as "switched off".
    assert register(site, institution="NOPE").status_code == 404
    client = site.client
    client.cookies.clear()
    r = client.post("/register", data={"institution": "MAIN", "first_name": "A",
                                        "last_name": "B", "email": "c@example.net",
                                        "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 403
    r = client.post("/register", content=b"\xff\xfe" * 10,
                    headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert r.status_code in (400, 403)
    r = client.post("/register", content=b"x" * 3_000_000,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert [u.primary_id for u in pending(site)] == [u.primary_id for u in pending(site)[:1]]


def test_rate_limit_per_address_and_per_email(site: Site, sink: tuple[Sink, int]) -> None:
    for _ in range(3):
        assert register(site).status_code == 200
    r = register(site)
    assert r.status_code == 429 and 'id="limited"' in r.text and "Retry-After" in r.headers
    assert len(pending(site)) == 1
    for n in range(6):  # other addresses: 10 per client address
        register(site, email=f"p{n}@example.net")
    assert register(site, email="late@example.net").status_code == 429


def _registered(site: Site, sink: tuple[Sink, int], email: str, *, confirmed: bool) -> str:
    register(site, email=email)
    new_id = registered_id(sink[0], email)
    if confirmed:
        assert confirm(site, sink[0].link(email)).status_code == 200
    return new_id


def test_merge_into_an_existing_user(site: Site, sink: tuple[Sink, int]) -> None:
    c = site.container
    new_id = _registered(site, sink, "jose.home@example.net", confirmed=False)
    site.sign_in("manager")
    found = site.client.get(f"/staff/registrations/{new_id}?q=jos")
    assert 'id="merge-into-jdoe"' in found.text and f'id="merge-into-{new_id}"' not in found.text
    assert 'id="merge-into-jdoe"' in site.client.get(
        f"/staff/registrations/{new_id}?q=jdoe").text  # by user ID too
    r = site.post(f"/staff/registrations/{new_id}/merge", {"into": "nobody"})
    assert r.status_code == 400 and 'id="error"' in r.text
    r = site.post(f"/staff/registrations/{new_id}/merge", {"into": new_id})
    assert r.status_code == 400
    r = site.post(f"/staff/registrations/{new_id}/merge", {"into": "jdoe"})
    assert r.status_code == 303, r.text
    jdoe = c.users.get("MAIN", "jdoe")
    assert [(e.email_address, e.segment_type, e.preferred) for e in jdoe.contact_info.emails] == [
        ("jose@example.org", SegmentType.INTERNAL, True),
        ("jose.home@example.net", SegmentType.INTERNAL, False)]
    with pytest.raises(UserNotFound):
        c.users.get("MAIN", new_id)
    merged = c.users.history("MAIN", "jdoe")[0]
    assert (merged.action, merged.actor, dict(merged.detail or {})) == (
        "registration.merge", "staff:manager", {"registration": new_id, "into": "jdoe"})
    assert [h.action for h in c.users.history("MAIN", new_id)][:2] == [
        "registration.merge", "user.remove"]


def test_reject_with_mail_and_unconfirmed_cannot_be_approved(site: Site,
                                                             sink: tuple[Sink, int]) -> None:
    c = site.container
    new_id = _registered(site, sink, "spam@example.net", confirmed=False)
    site.sign_in("manager")
    r = site.post(f"/staff/registrations/{new_id}/approve", {"user_group": "COMMUNITY"})
    assert r.status_code == 400 and "not confirmed" in r.text
    assert c.users.get("MAIN", new_id).user_group == "PENDING"
    r = site.post(f"/staff/registrations/{new_id}/reject", {"notify": "1"})
    assert r.status_code == 303
    with pytest.raises(UserNotFound):
        c.users.get("MAIN", new_id)
    assert "could not accept" in sink[0].last_body("spam@example.net")
    assert c.users.history("MAIN", new_id)[0].action == "registration.reject"
    assert site.client.get(f"/staff/registrations/{new_id}").status_code == 404


def test_approve_bad_input(site: Site, sink: tuple[Sink, int]) -> None:
    c = site.container
    new_id = _registered(site, sink, "ok@example.net", confirmed=True)
    site.sign_in("manager")
    url = f"/staff/registrations/{new_id}/approve"
    for data in ({"user_group": "NO_SUCH_GROUP"}, {"user_group": ""},
                 {"user_group": "COMMUNITY", "expiry_date": "31/12/2030"},
                 {"user_group": "COMMUNITY", "expiry_date": "2001-01-01"},
                 {"user_group": "<script>", "expiry_date": "'; DROP TABLE users;--"},
                 {"user_group": "x" * 5000}, {"user_group": "COM\x00MUNITY"},
                 {"user_group": "COMMUNITY", "expiry_date": "2030-01-01\x00"}):
        r = site.post(url, data)
        assert r.status_code == 400, (data, r.status_code)
        assert c.users.get("MAIN", new_id).user_group == "PENDING"
    r = site.client.post(url, data={"user_group": "COMMUNITY"})  # no CSRF token
    assert r.status_code == 403
    assert site.client.get("/staff/registrations/NOPE").status_code == 404
    for bad in ("x%00y", "x" * 300, "%E2%80%AEx"):
        assert site.client.get(f"/staff/registrations/{bad}").status_code == 404
        assert site.post(f"/staff/registrations/{bad}/reject", {}).status_code == 404
    r = site.post(url, {"user_group": "COMMUNITY", "expiry_date": ""})
    assert r.status_code == 303  # no expiry date: the record does not expire
    assert c.users.get("MAIN", new_id).expiry_date is None


@pytest.mark.parametrize("who", ["desk", "patron"])
def test_the_queue_needs_the_right_to_edit_patrons(site: Site, sink: tuple[Sink, int],
                                                   who: str) -> None:
    new_id = _registered(site, sink, "q@example.net", confirmed=True)
    site.sign_in(who)
    assert site.client.get("/staff/registrations").status_code == 403
    assert site.client.get(f"/staff/registrations/{new_id}").status_code == 403
    token = CSRF.search(site.client.get("/me").text)
    assert token is not None
    r = site.client.post(f"/staff/registrations/{new_id}/reject",
                         data={"csrf_token": token.group(1)})
    assert r.status_code == 403
    assert site.container.users.get("MAIN", new_id).user_group == "PENDING"


def test_a_mail_failure_leaves_no_half_made_registration(database_url: str) -> None:
    with smtp_sink() as (_, port):
        closed = port  # the sink stops at the end of the block: nothing listens there
    for site in site_for(database_url, **registration_settings(closed)):
        prepare(site.container)
        r = register(site)
        assert r.status_code == 200 and 'id="sent"' in r.text  # the same answer
        assert pending(site) == []
        with site.container.engine.connect() as conn:
            assert conn.execute(t.registrations.select()).all() == []


def test_the_cli_says_whether_the_form_is_open_and_lists_the_queue(
        site: Site, sink: tuple[Sink, int], database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    new_id = _registered(site, sink, "cli@example.net", confirmed=True)
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", database_url)
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        closed = runner.invoke(app, ["auth", "registrations", "MAIN"])
        assert closed.exit_code == 0 and "closed: not switched on" in closed.output
        assert f"{new_id}\tcli@example.net" in closed.output and "1 waiting." in closed.output
        monkeypatch.setenv("BOOKPLATE_SELF_REGISTRATION", '{"MAIN": {"pending_days": 7}}')
        get_settings.cache_clear()
        no_mail = runner.invoke(app, ["auth", "registrations", "MAIN"])
        assert "closed: no SMTP host or no public URL" in no_mail.output
        monkeypatch.setenv("BOOKPLATE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BOOKPLATE_PUBLIC_URL", "https://library.example")
        get_settings.cache_clear()
        opened = runner.invoke(app, ["auth", "registrations", "MAIN"])
        assert "open: pending group PENDING, 7 days, links valid 48 hours" in opened.output
        monkeypatch.setenv("BOOKPLATE_SELF_REGISTRATION", '{"MAIN": {"pending_group": "X"}}')
        get_settings.cache_clear()
        wrong = runner.invoke(app, ["auth", "registrations", "MAIN"])
        assert "the user group X is not enabled for PUBLIC" in wrong.output
        unknown = runner.invoke(app, ["auth", "registrations", "NOPE"])
        assert unknown.exit_code == 2
        monkeypatch.setenv("BOOKPLATE_SELF_REGISTRATION", '{"MAIN": {"pending_days": 0}}')
        get_settings.cache_clear()
        bad = runner.invoke(app, ["auth", "registrations", "MAIN"])
        assert bad.exit_code != 0 and "pending_days" in str(bad.exception or bad.output)
    finally:
        get_settings.cache_clear()


def test_every_form_of_the_flow_fuzzed(site: Site, sink: tuple[Sink, int]) -> None:
    from tests.functional.form_fuzz import fuzz, post_forms

    new_id = _registered(site, sink, "fuzz@example.net", confirmed=False)
    link = urlsplit(sink[0].link("fuzz@example.net")).path
    client = site.client
    client.cookies.clear()
    token = form_csrf(client)  # the double-submit pair of the public forms
    forms = post_forms(client, ["/register", link])
    assert {f.action for f in forms} == {"/register", link}
    assert fuzz(client, forms, token) == []
    site.sign_in("manager")
    forms = post_forms(client, [f"/staff/registrations/{new_id}?q=jos"])
    assert {f.action for f in forms} >= {f"/staff/registrations/{new_id}/{a}"
                                         for a in ("approve", "merge", "reject")}
    assert fuzz(client, forms, site.csrf()) == []
    assert site.container.users.get("MAIN", "jdoe").contact_info.emails[0].email_address == (
        "jose@example.org")
