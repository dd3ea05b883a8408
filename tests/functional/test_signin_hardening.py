"""Sign-in and sessions hardening (issue 14, items 1-8) through the app, on SQLite and
PostgreSQL: local passwords only where the account type and the sign-in profile allow them;
sessions ended when a password changes; the current password asked; which users a provider
may sign in as; reset requests doing the same work whatever the login names, mailed off the
request path and rate-limited; unlock and staff-triggered resets (API and CLI); configurable
lockout. The LDAP, SAML, CAS and OIDC parts run against the real peers in
``tests/integration/auth/test_signin_peers.py``."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from typer.testing import CliRunner

from bookplate.api.app import create_app
from bookplate.auth.errors import LoginDenied, ProfileInvalid
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.auth.profiles import from_config
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings, get_settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import Role, SegmentType, UserInput
from tests.functional.test_auth import PASSWORD, Sink, _user, smtp  # noqa: F401

NEW = "a-brand-new-secret"
CAS_CONFIG = {"server_url": "https://cas.example.org/cas/",
              "allowed_services": ["http://testserver/auth/cas/"]}


@dataclass
class World:
    app: Any
    client: TestClient
    container: Container
    key: str
    ro_key: str
    sink: Sink

    def second_browser(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False, follow_redirects=False)


def _world(database_url: str, port: int, sink: Sink, **settings: Any) -> Iterator[World]:
    config = Settings(**{"database_url": database_url, "cache_seconds": 0, "redis_url": None,
                         "session_cookie_secure": False, "public_url": "http://testserver",
                         "smtp_host": "127.0.0.1", "smtp_port": port, **settings})
    container = build_container(config, migrate=True)
    container.add_institution("MAIN", "Main University")
    _, key = container.keys.create("MAIN", "rw", parse_areas(["users:rw"]), 10_000)
    _, ro = container.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    users = container.users
    users.create("MAIN", UserInput(_user("jdoe"), PASSWORD), "test")
    users.create("MAIN", UserInput(_user("staffer", staff=True), PASSWORD), "test")
    viewer = _user("viewer", staff=True)
    viewer.roles = [Role("52", "MAIN", "ACTIVE")]  # Fulfillment Administrator: view only
    users.create("MAIN", UserInput(viewer, PASSWORD), "test")
    app = create_app(config, container)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield World(app, client, container, key, ro, sink)
    container.close()


@pytest.fixture
def world(database_url: str, smtp: tuple[Sink, int]) -> Iterator[World]:  # noqa: F811
    sink, port = smtp
    yield from _world(database_url, port, sink)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _login(client: TestClient, username: str = "jdoe", password: str = PASSWORD) -> Any:
    page = client.get("/auth/login")
    return client.post("/auth/login", data={"csrf_token": _csrf(page.text), "username": username,
                                            "password": password, "institution": "MAIN"})


def _op_auth(w: World, user: str, password: str) -> int:
    return w.client.post(f"/almaws/v1/users/{user}?op=auth",
                         headers={"Authorization": f"apikey {w.ro_key}",
                                  "Exl-User-Pw": quote(password)}).status_code


def _change(client: TestClient, current: str | None, new: str = NEW) -> Any:
    page = client.get("/auth/me")
    data = {"csrf_token": _csrf(page.text), "new_password": new, "confirm": new}
    if current is not None:
        data["current_password"] = current
    return client.post("/auth/password", data=data)


def _mail_count(w: World, at_least: int) -> int:
    for _ in range(100):
        if len(w.sink.messages) >= at_least:
            break
        time.sleep(0.05)
    return len(w.sink.messages)


def _jit(w: World, profile: str, user_id: str) -> None:
    mapping = UserMapping(create_users=True, default_user_group="UNDERGRAD",
                          fields={"email": "mail"})
    w.container.auth.complete_external_login(
        Identity(Method.CAS, profile, "MAIN", user_id, {"mail": (f"{user_id}@example.edu",)}),
        mapping)


# -- item 1: local passwords ----------------------------------------------------------------

def test_a_provider_user_can_neither_set_nor_use_a_local_password(world: World) -> None:
    w = world
    _jit(w, "campus", "ext1")  # created by a sign-in (CAS profile "campus")
    user = w.container.users.get("MAIN", "ext1")
    assert (user.account_type, user.external_id) == ("EXTERNAL", "campus")
    token, _ = w.container.auth.start_session(user, "cas")
    w.client.cookies.set("bp_session", token)
    assert w.client.get("/auth/password").status_code == 403
    me = w.client.get("/auth/me")
    assert me.status_code == 200 and 'href="/auth/password"' not in me.text
    r = w.client.post("/auth/password", data={"csrf_token": _csrf(me.text),
                                              "current_password": "", "new_password": NEW,
                                              "confirm": NEW})
    assert r.status_code == 403 and "identity provider" in r.text
    assert not w.container.users.check_password("MAIN", "ext1", "primary_id", NEW)
    # a password set some other way (staff, the API) still opens nothing
    stored = w.container.users.get("MAIN", "ext1")
    w.container.users.replace("MAIN", "ext1", UserInput(stored, NEW), "staff")
    w.client.cookies.clear()
    assert _login(w.client, "ext1", NEW).status_code == 401
    assert _op_auth(w, "ext1", NEW) == 400
    # nor does a reset link go out for it
    page = w.client.get("/auth/forgot")
    w.client.post("/auth/forgot", data={"csrf_token": _csrf(page.text), "institution": "MAIN",
                                        "username": "ext1"})
    w.container.resets.close()  # wait for the background sender
    assert w.sink.messages == []
    # internal accounts keep theirs
    assert _op_auth(w, "jdoe", PASSWORD) == 204


def test_a_profile_may_allow_local_passwords_and_sis_users_have_none(world: World) -> None:
    w = world
    w.container.external.add(Method.CAS, "MAIN", "campus",
                             {**CAS_CONFIG, "mapping": {"local_password": True}})
    _jit(w, "campus", "ext2")
    w.container.users.create("MAIN", UserInput(_user(
        "sis1", account_type="EXTERNAL", external_id="SIS_MAIN"), PASSWORD), "sis")
    stored = w.container.users.get("MAIN", "ext2")
    w.container.users.replace("MAIN", "ext2", UserInput(stored, NEW), "staff")
    assert _op_auth(w, "ext2", NEW) == 204
    assert _login(w.client, "ext2", NEW).status_code == 303
    assert w.client.get("/auth/password").status_code == 200
    assert _op_auth(w, "sis1", PASSWORD) == 400  # loaded from the SIS: signs in elsewhere


# -- items 2 and 3: changing and resetting a password -----------------------------------------

def test_change_needs_the_current_password_and_ends_the_other_sessions(world: World) -> None:
    w = world
    other = w.second_browser()
    assert _login(w.client).status_code == 303
    assert _login(other).status_code == 303
    assert other.get("/auth/me").status_code == 200
    assert _change(w.client, None).status_code == 401  # no current password
    assert _change(w.client, "not-the-password").status_code == 401
    assert not w.container.users.check_password("MAIN", "jdoe", "primary_id", NEW)
    done = _change(w.client, PASSWORD)
    assert done.status_code == 200 and "changed" in done.text
    assert w.client.get("/auth/me").status_code == 200  # the session that changed it stays
    assert other.get("/auth/me").status_code == 303  # every other one ended
    assert _op_auth(w, "jdoe", NEW) == 204


def test_wrong_current_passwords_count_towards_the_lockout(world: World) -> None:
    w = world
    assert _login(w.client).status_code == 303
    for _ in range(15):
        assert _change(w.client, "not-the-password").status_code == 401
    assert _op_auth(w, "jdoe", PASSWORD) == 400  # locked
    assert _change(w.client, PASSWORD).status_code == 401


def test_a_reset_ends_every_session(world: World) -> None:
    w = world
    other = w.second_browser()
    assert _login(w.client).status_code == 303
    assert _login(other).status_code == 303
    assert _forgot(w.client, "jdoe").status_code == 200
    assert _mail_count(w, 1) == 1
    found = re.search(r"http://testserver(/auth/reset/\S+)", w.sink.messages[0])
    assert found
    path = found.group(1)
    page = w.client.get(path)
    r = w.client.post(path, data={"csrf_token": _csrf(page.text), "new_password": NEW,
                                  "confirm": NEW})
    assert r.status_code == 200 and "changed" in r.text
    assert w.client.get("/auth/me").status_code == 303
    assert other.get("/auth/me").status_code == 303


def test_a_password_set_through_the_api_ends_the_users_sessions(world: World) -> None:
    w = world
    assert _login(w.client).status_code == 303
    body = w.client.get("/almaws/v1/users/jdoe", headers=_h(w.key)).json()
    kept = w.client.put("/almaws/v1/users/jdoe", json={**body, "password": ""},
                        headers=_h(w.key))
    assert kept.status_code == 200 and w.client.get("/auth/me").status_code == 200
    changed = w.client.put("/almaws/v1/users/jdoe", json={**body, "password": NEW},
                           headers=_h(w.key))
    assert changed.status_code == 200
    assert w.client.get("/auth/me").status_code == 303
    assert _op_auth(w, "jdoe", NEW) == 204


# -- item 4: which users a provider may sign in as --------------------------------------------

def test_a_provider_never_signs_in_as_staff_by_default(world: World) -> None:
    w = world
    auth = w.container.auth
    mapping = UserMapping(update_users=True, fields={"first_name": "givenName",
                                                     "last_name": "sn", "email": "mail"})
    forged = Identity(Method.SAML, "idp", "MAIN", "staffer",
                      {"givenName": ("Eve",), "sn": ("Attacker",), "mail": ("eve@evil.example",)})
    with pytest.raises(LoginDenied):
        auth.complete_external_login(forged, mapping)
    # a PUBLIC record holding a role beyond Patron is staff too
    desk = _user("desk")
    desk.roles = [Role("52", "MAIN", "ACTIVE")]
    w.container.users.create("MAIN", UserInput(desk, PASSWORD), "test")
    with pytest.raises(LoginDenied):
        auth.complete_external_login(Identity(Method.OIDC, "op", "MAIN", "desk"), mapping)
    staffer = w.container.users.get("MAIN", "staffer")
    assert (staffer.first_name, staffer.last_name) == ("Jo", "Doe")
    assert [e.email_address for e in staffer.contact_info.emails] == ["staffer@example.edu"]
    events, _ = auth.store.events("MAIN", None, None, False, True, 10, 0)
    assert [(e.login_name, e.method) for e in events][-1] == ("staffer", "saml")


def test_a_profile_that_allows_staff_still_never_overwrites_internal_data(world: World) -> None:
    w = world
    mapping = UserMapping(update_users=True, record_types=("PUBLIC", "STAFF"), staff_roles=True,
                          fields={"first_name": "givenName", "email": "mail"})
    user = w.container.auth.complete_external_login(
        Identity(Method.SAML, "idp", "MAIN", "staffer",
                 {"givenName": ("Eve",), "mail": ("eve@evil.example",)}), mapping)
    assert user.primary_id == "staffer"
    stored = w.container.users.get("MAIN", "staffer")
    assert stored.first_name == "Jo"
    assert [(e.email_address, e.segment_type) for e in stored.contact_info.emails] == [
        ("staffer@example.edu", SegmentType.INTERNAL)]
    # an external account is refreshed, its provider e-mail an External segment
    _jit(w, "idp", "ext3")
    w.container.auth.complete_external_login(
        Identity(Method.SAML, "idp", "MAIN", "ext3",
                 {"givenName": ("Ann",), "mail": ("ann@example.edu",)}), mapping)
    ext = w.container.users.get("MAIN", "ext3")
    assert ext.first_name == "Ann"
    assert [(e.email_address, e.segment_type) for e in ext.contact_info.emails] == [
        ("ann@example.edu", SegmentType.EXTERNAL)]
    # account types are a setting too
    only_external = UserMapping(account_types=("EXTERNAL",))
    with pytest.raises(LoginDenied):
        w.container.auth.complete_external_login(
            Identity(Method.CAS, "c", "MAIN", "jdoe"), only_external)


def test_who_a_provider_may_sign_in_as_is_checked_in_the_profile() -> None:
    ok = from_config(Method.CAS, "MAIN", "c", {**CAS_CONFIG, "mapping": {
        "record_types": ["PUBLIC", "STAFF"], "account_types": ["EXTERNAL"],
        "staff_roles": True, "local_password": False}})
    assert ok.mapping.record_types == ("PUBLIC", "STAFF")
    default = from_config(Method.CAS, "MAIN", "c", CAS_CONFIG).mapping
    assert (default.record_types, default.staff_roles, default.local_password) == (
        ("PUBLIC",), False, False)
    for bad, words in [({"record_types": ["ROBOT"]}, "mapping.record_types"),
                       ({"account_types": "INTERNAL"}, "account_types"),
                       ({"staff_roles": "yes"}, "staff_roles")]:
        with pytest.raises(ProfileInvalid, match=words):
            from_config(Method.CAS, "MAIN", "c", {**CAS_CONFIG, "mapping": bad})


# -- item 6: /auth/forgot -----------------------------------------------------------------------

@contextmanager
def _statements(w: World) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0].upper())

    event.listen(w.container.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(w.container.engine, "before_cursor_execute", count)


def _forgot(client: TestClient, username: str) -> Any:
    page = client.get("/auth/forgot")
    return client.post("/auth/forgot", data={"csrf_token": _csrf(page.text),
                                             "institution": "MAIN", "username": username})


def test_forgot_does_the_same_work_for_known_and_unknown_accounts(world: World) -> None:
    w = world
    queued: list[Callable[[], None]] = []
    w.container.resets.background = queued.append
    work = {}
    for name in ("jdoe", "nobody"):
        with _statements(w) as seen:
            r = _forgot(w.client, name)
        assert r.status_code == 200 and "on its way" in r.text
        work[name] = seen
    assert work["jdoe"] == work["nobody"]  # same statements, in the same order
    assert len(queued) == 2 and w.sink.messages == []  # nothing mailed on the request path
    for job in queued:
        job()
    assert len(w.sink.messages) == 1 and "jdoe@example.edu" in w.sink.messages[0]


def test_forgot_is_limited_per_account(world: World) -> None:
    w = world
    for n in range(3):
        assert _forgot(w.client, "jdoe").status_code == 200
        assert _mail_count(w, n + 1) == n + 1
    limited = _forgot(w.client, "JDOE")  # the same account, however it is spelled
    assert limited.status_code == 429 and "Too many" in limited.text
    # another name of the same account (its barcode) is counted by the sender
    assert _forgot(w.client, "B-jdoe").status_code == 200
    w.container.resets.close()
    assert len(w.sink.messages) == 3


def test_forgot_is_limited_per_address(database_url: str,
                                       smtp: tuple[Sink, int]) -> None:  # noqa: F811
    sink, port = smtp
    for w in _world(database_url, port, sink, reset_limit_per_address=4):
        for n in range(4):
            assert _forgot(w.client, f"someone-{n}").status_code == 200
        assert _forgot(w.client, "jdoe").status_code == 429
        w.container.resets.close()
        assert sink.messages == []


# -- item 8: unlock and staff-triggered reset; thresholds -------------------------------------

def _lock(w: World, user: str = "jdoe", times: int = 15) -> None:
    for _ in range(times):
        assert _op_auth(w, user, "not-the-password") == 400


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {key}", "Accept": "application/json"}


def test_unlock_through_the_api(world: World) -> None:
    w = world
    _lock(w)
    assert _op_auth(w, "jdoe", PASSWORD) == 400
    url = "/bookplate/v1/users/B-jdoe"
    state = w.client.get(f"{url}/lockout", headers=_h(w.ro_key))
    assert state.status_code == 200 and state.json() == {"primary_id": "jdoe", "locked": True}
    refused = w.client.post(f"{url}/unlock", headers=_h(w.ro_key))  # read-only key
    assert refused.status_code == 400 and "errorList" in refused.json()
    _, viewer = w.container.tokens.issue("MAIN", "viewer")
    bearer = {"Authorization": f"Bearer {viewer}", "Accept": "application/json"}
    assert w.client.post(f"{url}/unlock", headers=bearer).status_code == 403
    assert w.client.get(f"{url}/lockout", headers=bearer).json()["locked"] is True
    _, manager = w.container.tokens.issue("MAIN", "staffer")
    done = w.client.post(f"{url}/unlock",
                         headers={"Authorization": f"Bearer {manager}",
                                  "Accept": "application/json"})
    assert done.status_code == 200 and done.json() == {"primary_id": "jdoe", "was_locked": True}
    assert _op_auth(w, "jdoe", PASSWORD) == 204
    unknown = w.client.post("/bookplate/v1/users/nobody/unlock", headers=_h(w.key))
    assert unknown.status_code == 400
    assert unknown.json()["errorList"]["error"][0]["errorCode"] == "401861"
    nul = w.client.post("/bookplate/v1/users/a%00b/unlock", headers=_h(w.key))
    assert nul.status_code == 400


def test_staff_triggered_reset_through_the_api(world: World) -> None:
    w = world
    r = w.client.post("/bookplate/v1/users/jdoe/password-reset", headers=_h(w.key))
    assert r.status_code == 200, r.text
    assert r.json() == {"primary_id": "jdoe", "sent_to": "jdoe@example.edu"}
    assert _mail_count(w, 1) == 1
    link = re.search(r"http://testserver(/auth/reset/\S+)", w.sink.messages[0])
    assert link and w.client.get(link.group(1)).status_code == 200
    _jit(w, "campus", "ext4")
    no = w.client.post("/bookplate/v1/users/ext4/password-reset", headers=_h(w.key))
    assert no.status_code == 400 and "identity provider" in no.text
    w.container.users.create("MAIN", UserInput(_nomail(), PASSWORD), "t")
    no = w.client.post("/bookplate/v1/users/nomail/password-reset", headers=_h(w.key))
    assert no.status_code == 400 and "no e-mail" in no.text
    # a staff member who may only view users may not send one
    _, viewer = w.container.tokens.issue("MAIN", "viewer")
    denied = w.client.post("/bookplate/v1/users/jdoe/password-reset",
                           headers={"Authorization": f"Bearer {viewer}"})
    assert denied.status_code == 403
    assert len(w.sink.messages) == 1


def _nomail() -> Any:
    user = _user("nomail")
    user.contact_info.emails = []
    return user


def test_cli_unlock_and_reset(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from bookplate.cli.main import app as cli

    w = world
    s = w.container.settings
    for name, value in (("DATABASE_URL", s.database_url), ("PUBLIC_URL", s.public_url),
                        ("SMTP_HOST", s.smtp_host), ("SMTP_PORT", str(s.smtp_port))):
        monkeypatch.setenv(f"BOOKPLATE_{name}", str(value))
    get_settings.cache_clear()
    run = CliRunner().invoke
    try:
        _lock(w)
        unlocked = run(cli, ["auth", "unlock", "MAIN", "jdoe"])
        assert unlocked.exit_code == 0 and "jdoe: unlocked." in unlocked.output
        assert _op_auth(w, "jdoe", PASSWORD) == 204
        again = run(cli, ["auth", "unlock", "MAIN", "jdoe"])
        assert "was not locked" in again.output
        sent = run(cli, ["auth", "reset-password", "MAIN", "B-jdoe"])
        assert sent.exit_code == 0 and "link sent to jdoe@example.edu" in sent.output
        assert _mail_count(w, 1) == 1
        printed = run(cli, ["auth", "reset-password", "MAIN", "jdoe", "--print-link"])
        assert printed.exit_code == 0
        link = printed.stdout.strip().splitlines()[-1]
        assert w.client.get(link.removeprefix("http://testserver")
                            ).status_code == 200
        for args in (["unlock", "MAIN", "nobody"], ["unlock", "NOPE", "jdoe"],
                     ["unlock", "MAIN", "a\x00b"], ["reset-password", "MAIN", "nobody"]):
            bad = run(cli, ["auth", *args])
            assert bad.exit_code == 2, (args, bad.output)
            assert "error:" in bad.output.lower() and "Traceback" not in bad.output
    finally:
        get_settings.cache_clear()


def test_lockout_thresholds_are_settings(database_url: str,
                                         smtp: tuple[Sink, int]) -> None:  # noqa: F811
    sink, port = smtp
    for w in _world(database_url, port, sink, lockout_failures=3, lockout_seconds=120):
        _lock(w, times=3)
        assert _op_auth(w, "jdoe", PASSWORD) == 400
        later = w.container.auth.now().timestamp() + 121
        assert not w.container.auth.lockout.is_locked("MAIN:jdoe", later)
    with pytest.raises(ValueError):
        Settings(lockout_failures=0)


def test_unlock_and_reset_limits_with_redis(database_url: str,
                                            smtp: tuple[Sink, int]) -> None:  # noqa: F811
    """The same with the counters in Redis (``BOOKPLATE_TEST_REDIS_URL``)."""
    import redis

    url = os.environ.get("BOOKPLATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("BOOKPLATE_TEST_REDIS_URL not set")
    client = redis.Redis.from_url(url)

    def forget() -> None:
        for pattern in ("bookplate:login:*MAIN:jdoe", "bookplate:attempts:reset:*"):
            keys = list(client.scan_iter(pattern))
            if keys:
                client.delete(*keys)

    sink, port = smtp
    forget()
    try:
        for w in _world(database_url, port, sink, redis_url=url, lockout_failures=3):
            _lock(w, times=3)
            assert _op_auth(w, "jdoe", PASSWORD) == 400
            assert w.container.auth.unlock("MAIN", "jdoe", "test")
            assert _op_auth(w, "jdoe", PASSWORD) == 204
            for _ in range(3):
                assert _forgot(w.client, "jdoe").status_code == 200
            assert _forgot(w.client, "jdoe").status_code == 429
    finally:
        forget()
        client.close()
