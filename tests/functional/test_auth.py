"""Authentication through the app: op=auth with lockout, web sign-in (CSRF, fixation, open
redirect), sessions on the API, discovery JWTs and JWKS, users/ME, password reset by mail,
the staff login report, and just-in-time external logins."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from bookplate.api.app import create_app
from bookplate.auth.errors import LoginDenied
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import Email, Identifier, Role, User, UserInput

PASSWORD = "correct-horse-battery"


class Sink:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@dataclass
class Env:
    client: TestClient
    container: Container
    key: str
    ro_key: str
    other_key: str
    sink: Sink


def _user(primary_id: str, *, staff: bool = False, **kw: Any) -> User:
    user = User(primary_id=primary_id, first_name="Jo", last_name="Doe",
                user_group="STAFF" if staff else "UNDERGRAD",
                record_type="STAFF" if staff else "PUBLIC")
    user.contact_info.emails = [Email(f"{primary_id}@example.edu", email_types=["personal"],
                                      preferred=True)]
    user.identifiers = [Identifier("BARCODE", f"B-{primary_id}")]
    if staff:
        user.roles = [Role("21", "MAIN", "ACTIVE")]  # User Manager
    for k, v in kw.items():
        setattr(user, k, v)
    return user


@pytest.fixture
def env(database_url: str, smtp: tuple[Sink, int]) -> Iterator[Env]:
    sink, port = smtp
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                        session_cookie_secure=False, public_url="http://testserver",
                        smtp_host="127.0.0.1", smtp_port=port)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    container.add_institution("OTHER", "Other College")
    _, key = container.keys.create("MAIN", "rw", parse_areas(["users:rw"]), 10_000)
    _, ro = container.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    _, other = container.keys.create("OTHER", "rw", parse_areas(["users:rw"]), 10_000)
    users = container.users
    users.create("MAIN", UserInput(_user("jdoe"), PASSWORD), "test")
    users.create("MAIN", UserInput(_user("staffer", staff=True), PASSWORD), "test")
    users.create("MAIN", UserInput(_user("gone", status="INACTIVE"), PASSWORD), "test")
    users.create("MAIN", UserInput(_user("old", expiry_date=datetime(2020, 1, 1).date()),
                                   PASSWORD), "test")
    users.create("OTHER", UserInput(_user("ojdoe"), PASSWORD), "test")
    app = create_app(settings, container)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield Env(client, container, key, ro, other, sink)
    container.close()


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {key}", "Accept": "application/json"}


def code_of(response: Any) -> str:
    return str(response.json()["errorList"]["error"][0]["errorCode"])


# -- op=auth ---------------------------------------------------------------------------------

def test_op_auth_header_query_identifier_and_read_only_key(env: Env) -> None:
    c = env.client
    ok = c.post("/almaws/v1/users/jdoe?op=auth",
                headers={**h(env.ro_key), "Exl-User-Pw": quote(PASSWORD)})
    assert ok.status_code == 204
    assert c.post(f"/almaws/v1/users/B-jdoe?op=auth&password={PASSWORD}",
                  headers=h(env.ro_key)).status_code == 204
    for user in ("gone", "old"):
        r = c.post(f"/almaws/v1/users/{user}?op=auth&password={PASSWORD}", headers=h(env.key))
        assert (r.status_code, code_of(r)) == (400, "401866")


@pytest.mark.parametrize("password", ["", "wrong-password", "x" * 1_000_000, "pässwörd-ü🔑",
                                      "\x00\x00\x00\x00\x00\x00\x00\x00"])
def test_op_auth_bad_passwords_are_401866(env: Env, password: str) -> None:
    r = env.client.post("/almaws/v1/users/jdoe?op=auth",
                        headers={**h(env.key), "Exl-User-Pw": quote(password)})
    assert (r.status_code, code_of(r)) == (400, "401866")
    assert "wrong" not in r.text and "locked" not in r.text


def test_op_auth_control_characters_in_the_id(env: Env) -> None:  # nul-in-op-auth
    r = env.client.post("/almaws/v1/users/jd%00oe?op=auth",
                        headers={**h(env.key), "Exl-User-Pw": quote(PASSWORD)})
    assert r.status_code == 400


def test_fifteen_failures_lock_for_thirty_minutes(env: Env) -> None:
    c = env.client
    url = "/almaws/v1/users/jdoe?op=auth"
    for _ in range(15):
        assert c.post(url, headers={**h(env.key), "Exl-User-Pw": "nope-nope"}).status_code == 400
    # locked: even the right password fails, also through an identifier
    assert c.post(url, headers={**h(env.key), "Exl-User-Pw": quote(PASSWORD)}).status_code == 400
    assert c.post("/almaws/v1/users/B-jdoe?op=auth",
                  headers={**h(env.key), "Exl-User-Pw": quote(PASSWORD)}).status_code == 400
    # the lock lives in the database: a second container (another worker) sees it
    other = build_container(env.container.settings)
    try:
        with pytest.raises(Exception, match="authentication failed"):
            other.auth.verify_password("MAIN", "jdoe", PASSWORD)
        # 30 minutes later it is open again
        later = datetime.now(UTC) + timedelta(minutes=31)
        other.auth._clock = lambda: later
        assert other.auth.verify_password("MAIN", "jdoe", PASSWORD).primary_id == "jdoe"
    finally:
        other.close()


def test_success_resets_the_count(env: Env) -> None:
    url = "/almaws/v1/users/jdoe?op=auth"
    for _ in range(3):
        for _ in range(14):
            env.client.post(url, headers={**h(env.key), "Exl-User-Pw": "nope-nope"})
        assert env.client.post(url, headers={**h(env.key), "Exl-User-Pw": quote(PASSWORD)}
                               ).status_code == 204


# -- web sign-in -------------------------------------------------------------------------------

def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def login(env: Env, username: str = "staffer", password: str = PASSWORD,
          next_url: str = "", institution: str = "MAIN") -> Any:
    page = env.client.get("/auth/login")
    assert page.status_code == 200
    return env.client.post("/auth/login", data={
        "csrf_token": _csrf(page.text), "username": username, "password": password,
        "institution": institution, "next": next_url})


def test_login_page_cookies_and_sign_out(env: Env) -> None:
    r = login(env)
    # No page asked for: a staff member lands on the staff pages (docs/staff-ui.md).
    assert r.status_code == 303 and r.headers["location"] == "/staff/"
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("bp_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    me = env.client.get("/auth/me")
    assert me.status_code == 200 and "staffer" in me.text
    out = env.client.post("/auth/logout", data={"csrf_token": _csrf(me.text)})
    assert out.status_code == 303
    assert env.client.get("/auth/me").status_code == 303  # back to the login page


def test_secure_cookie_by_default(database_url: str) -> None:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None)
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main")
    container.users.create("MAIN", UserInput(_user("jdoe"), PASSWORD), "t")
    with TestClient(create_app(settings, container), base_url="https://testserver",
                    follow_redirects=False) as client:
        page = client.get("/auth/login")
        r = client.post("/auth/login", data={"csrf_token": _csrf(page.text), "username": "jdoe",
                                             "password": PASSWORD, "institution": "MAIN"})
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("bp_session="))
        assert "Secure" in cookie
    container.close()


@pytest.mark.parametrize("username,password", [
    ("staffer", "wrong-password"), ("nobody", PASSWORD), ("", ""), ("staffer", ""),
    ("staffer", "x" * 1_000_000), ("gone", PASSWORD), ("old", PASSWORD),
    ("ünïcødé🔑", "pässwörd-ü🔑"), ("staffer\x00", PASSWORD), ("x" * 10_000, PASSWORD),
])
def test_login_failures_say_only_authentication_failed(env: Env, username: str,
                                                       password: str) -> None:
    r = login(env, username, password)
    assert r.status_code == 401
    assert "Authentication failed" in r.text
    for leak in ("inactive", "expired", "unknown", "wrong", "locked"):
        assert leak not in r.text.lower()
    assert "bp_session" not in r.headers.get("set-cookie", "")


def test_login_by_identifier_and_wrong_institution(env: Env) -> None:
    assert login(env, "B-staffer").status_code == 303
    assert login(env, "staffer", institution="OTHER").status_code == 401
    assert login(env, "staffer", institution="NOPE").status_code == 401


def test_csrf_missing_or_wrong_is_refused(env: Env) -> None:
    env.client.get("/auth/login")
    data = {"username": "staffer", "password": PASSWORD, "institution": "MAIN"}
    assert env.client.post("/auth/login", data=data).status_code == 403
    assert env.client.post("/auth/login", data={**data, "csrf_token": "forged"}).status_code == 403
    env.client.cookies.clear()
    assert env.client.post("/auth/login", data={**data, "csrf_token": "x" * 43}).status_code == 403
    # sign-out needs the session's token too
    assert login(env).status_code == 303
    assert env.client.post("/auth/logout", data={"csrf_token": "forged"}).status_code == 403
    assert env.client.get("/auth/me").status_code == 200


def test_session_fixation_prevented(env: Env) -> None:
    planted = "bps_" + "A" * 43
    env.client.cookies.set("bp_session", planted, domain="testserver.local")
    r = login(env)
    assert r.status_code == 303
    new = env.client.cookies.get("bp_session")
    assert new and new != planted
    # a session id someone saw before sign-in is not signed in afterwards
    first = new
    assert login(env).status_code == 303
    second = env.client.cookies.get("bp_session")
    assert second != first
    env.client.cookies.clear()
    env.client.cookies.set("bp_session", first, domain="testserver.local")
    assert env.client.get("/auth/me").status_code == 303  # the old session was ended
    env.client.cookies.clear()
    env.client.cookies.set("bp_session", planted, domain="testserver.local")
    assert env.client.get("/auth/me").status_code == 303


# A refused target falls back to the staffer's start page, /staff/.
@pytest.mark.parametrize("target,expected", [
    ("/auth/me?x=1", "/auth/me?x=1"),
    ("https://evil.example/", "/staff/"),
    ("//evil.example/", "/staff/"),
    ("/\\evil.example", "/staff/"),
    ("\\\\evil.example", "/staff/"),
    ("javascript:alert(1)", "/staff/"),
    ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
    ("/\r\nLocation: https://evil.example", "/staff/"),
    ("http:/evil.example", "/staff/"),
])
def test_open_redirect_refused(env: Env, target: str, expected: str) -> None:
    r = login(env, next_url=target)
    assert r.status_code == 303 and r.headers["location"] == expected


def test_force_password_change(env: Env) -> None:
    env.container.users.create("MAIN", UserInput(
        _user("newbie", force_password_change=True), PASSWORD), "t")
    r = login(env, "newbie")
    assert r.headers["location"] == "/auth/password"
    page = env.client.get("/auth/password")
    token = _csrf(page.text)
    weak = env.client.post("/auth/password", data={"csrf_token": token,
                                                   "current_password": PASSWORD,
                                                   "new_password": "password",
                                                   "confirm": "password"})
    assert weak.status_code == 400 and "at least 8" in weak.text
    ok = env.client.post("/auth/password", data={"csrf_token": token,
                                                 "current_password": PASSWORD,
                                                 "new_password": "a-new-long-secret",
                                                 "confirm": "a-new-long-secret"})
    assert ok.status_code == 200 and "changed" in ok.text
    assert env.container.users.get("MAIN", "newbie").force_password_change is False
    env.container.auth.verify_password("MAIN", "newbie", "a-new-long-secret")


# -- sessions on the API -----------------------------------------------------------------------

def test_staff_session_works_where_staff_tokens_do(env: Env) -> None:
    assert login(env).status_code == 303
    r = env.client.get("/almaws/v1/users/jdoe", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["primary_id"] == "jdoe"
    body = r.json()
    # a write through the session without the CSRF header is refused
    put = env.client.put("/almaws/v1/users/jdoe", json=body,
                         headers={"Accept": "application/json"})
    assert put.status_code == 403
    me = env.client.get("/auth/me")
    csrf = _csrf(me.text)
    put = env.client.put("/almaws/v1/users/jdoe", json=body,
                         headers={"Accept": "application/json", "X-CSRF-Token": csrf})
    assert put.status_code == 200, put.text


# -- discovery tokens --------------------------------------------------------------------------

def _jwt(env: Env, key: str | None = None, **body: Any) -> Any:
    payload = {"userName": "jdoe", "institution": "MAIN", "viewId": "MAIN:VU1",
               "language": "en", "onCampus": True, **body}
    headers = h(key) if key else {"Accept": "application/json"}
    return env.client.post("/primo/v1/userJwt", json=payload, headers=headers)


def test_user_jwt_and_me(env: Env) -> None:
    r = _jwt(env, env.ro_key)
    assert r.status_code == 200, r.text
    token = r.json()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["userName"] == "jdoe" and claims["userGroup"] == "UNDERGRAD"
    assert claims["viewId"] == "MAIN:VU1" and claims["onCampus"] is True
    me = env.client.get("/almaws/v1/users/ME",
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    assert me.status_code == 200 and me.json()["primary_id"] == "jdoe"
    # with the API key of the same institution too
    both = env.client.get(f"/almaws/v1/users/ME?apikey={env.ro_key}",
                          headers={"Authorization": f"Bearer {token}"})
    assert both.status_code == 200 and b"<primary_id>jdoe</primary_id>" in both.content
    # JWKS publishes the key that signed it
    jwks = env.client.get("/auth/MAIN/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert all("d" not in k for k in jwks["keys"])


def test_user_jwt_refusals(env: Env) -> None:
    assert _jwt(env).status_code == 401  # no key, no session
    assert code_of(_jwt(env, env.key, userName="nobody")) == "401861"
    assert _jwt(env, env.key, userName="gone").status_code == 401
    assert _jwt(env, env.key, institution="OTHER").status_code == 400
    assert _jwt(env, env.key, onCampus=[1]).status_code == 400
    r = env.client.post("/primo/v1/userJwt", content=b"{not json", headers=h(env.key))
    assert r.status_code == 400
    r = env.client.post("/primo/v1/userJwt", content=b"x" * 20_000, headers=h(env.key))
    assert r.status_code == 413
    # with the patron's password: checked (and counted)
    bad = env.client.post("/primo/v1/userJwt", json={"userName": "jdoe"},
                          headers={**h(env.key), "Exl-User-Pw": "wrong-password"})
    assert bad.status_code == 401
    good = env.client.post("/primo/v1/userJwt", json={"userName": "jdoe"},
                           headers={**h(env.key), "Exl-User-Pw": quote(PASSWORD)})
    assert good.status_code == 200


def test_user_jwt_from_a_session(env: Env) -> None:
    assert login(env, "jdoe").status_code == 303
    r = env.client.post("/primo/v1/userJwt", json={}, headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert _jwt(env, userName="staffer").status_code == 401


def _me(env: Env, token: str, key: str | None = None) -> Any:
    url = "/almaws/v1/users/ME" + (f"?apikey={key}" if key else "")
    return env.client.get(url, headers={"Authorization": f"Bearer {token}",
                                        "Accept": "application/json"})


def _forge(claims: dict[str, Any], key: RSAKey, kid: str, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, claims, key, algorithms=[alg])


def test_forged_expired_none_and_other_institution_tokens_refused(env: Env) -> None:
    good = _jwt(env, env.key).json()
    header = json.loads(base64.urlsafe_b64decode(good.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    attacker = RSAKey.generate_key(2048, private=True)
    cases = {
        "wrong key": _forge(claims, attacker, header["kid"]),
        "expired": _forge({**claims, "exp": int(time.time()) - 3600}, attacker, header["kid"]),
        "garbage": "not.a.jwt",
        "empty-ish": "a",
        "huge": "a" * 20_000,
    }
    # alg=none: header and payload, no signature
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    cases["alg none"] = f"{b64({'alg': 'none', 'kid': header['kid']})}.{b64(claims)}."
    cases["alg HS256"] = f"{b64({'alg': 'HS256', 'kid': header['kid']})}.{b64(claims)}.abc"
    # a real token whose payload was changed (signature no longer matches)
    tampered = {**claims, "sub": "staffer", "userName": "staffer"}
    parts = good.split(".")
    cases["tampered"] = f"{parts[0]}.{b64(tampered)}.{parts[2]}"
    for name, token in cases.items():
        r = _me(env, token)
        assert r.status_code == 401, name
        assert code_of(r) == "401866", name
        assert "expired" not in r.text.lower() and "signature" not in r.text.lower(), name
    # a genuinely expired token (issued long ago by the real key)
    past = datetime.now(UTC) - timedelta(hours=3)
    env.container.discovery._clock = lambda: past
    old = env.container.discovery.issue(env.container.users.get("MAIN", "jdoe"))
    env.container.discovery._clock = lambda: datetime.now(UTC)
    assert _me(env, old).status_code == 401
    # other institution: a token of OTHER used with MAIN's key, and an OTHER token claiming MAIN
    other_token = _jwt(env, env.other_key, institution="OTHER", userName="ojdoe").json()
    assert _me(env, other_token).status_code == 200  # on its own it is OTHER's patron
    assert _me(env, other_token, env.key).status_code == 401
    other_claims = json.loads(base64.urlsafe_b64decode(other_token.split(".")[1] + "=="))
    other_header = json.loads(base64.urlsafe_b64decode(other_token.split(".")[0] + "=="))
    other_key = env.container.discovery._load("OTHER").active
    assert other_key is not None
    claiming_main = _forge({**other_claims, "institution": "MAIN", "iss": "urn:bookplate:MAIN"},
                           other_key, other_header["kid"])
    assert _me(env, claiming_main).status_code == 401
    # staff bearer tokens are told apart from JWTs
    _, staff_token = env.container.tokens.issue("MAIN", "staffer")
    assert _me(env, staff_token).json()["primary_id"] == "staffer"
    assert _me(env, "bpt_forged").status_code == 401
    # no credentials at all
    assert env.client.get("/almaws/v1/users/ME").status_code == 401


def test_key_rotation_keeps_old_tokens_valid(env: Env) -> None:
    old = _jwt(env, env.key).json()
    old_kid = json.loads(base64.urlsafe_b64decode(old.split(".")[0] + "=="))["kid"]
    new_kid = env.container.discovery.rotate("MAIN")
    kids = [k["kid"] for k in env.client.get("/auth/MAIN/jwks.json").json()["keys"]]
    assert set(kids) == {old_kid, new_kid}
    assert _me(env, old).status_code == 200
    fresh = _jwt(env, env.key).json()
    assert json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "=="))["kid"] == new_kid
    # once the old key's tokens have all expired, a later rotation drops it
    later = datetime.now(UTC) + timedelta(hours=2)
    env.container.discovery._clock = lambda: later
    env.container.discovery.rotate("MAIN")
    kids = [k["kid"] for k in env.client.get("/auth/MAIN/jwks.json").json()["keys"]]
    assert old_kid not in kids and new_kid in kids
    unknown = env.client.get("/auth/NOPE/jwks.json",  # no such institution: not an empty set
                             headers={"Accept": "application/json"})
    assert unknown.status_code == 404 and "keys" not in unknown.json()
    assert unknown.json()["errorList"]["error"][0]["errorCode"] == "NOT_FOUND"
    env.container.add_institution("EMPTY", "No JWT issued yet")
    assert env.client.get("/auth/EMPTY/jwks.json").json() == {"keys": []}
    assert env.client.get("/auth/..%2f..%2fetc/jwks.json").status_code in (400, 404)


# -- password reset by e-mail ------------------------------------------------------------------

def _reset_link(env: Env, username: str = "jdoe") -> str:
    page = env.client.get("/auth/forgot")
    r = env.client.post("/auth/forgot", data={"csrf_token": _csrf(page.text),
                                              "institution": "MAIN", "username": username})
    assert r.status_code == 200 and "on its way" in r.text
    for _ in range(50):
        if env.sink.messages:
            break
        time.sleep(0.05)
    found = re.search(r"http://testserver(/auth/reset/\S+)", env.sink.messages[-1])
    assert found
    return found.group(1)


def test_reset_link_works_once_and_obeys_the_rules(env: Env) -> None:
    link = _reset_link(env)
    assert "jdoe@example.edu" in env.sink.messages[-1]
    page = env.client.get(link)
    assert page.status_code == 200
    token = _csrf(page.text)
    weak = env.client.post(link, data={"csrf_token": token, "new_password": "jdoe-1234567",
                                       "confirm": "jdoe-1234567"})
    assert weak.status_code == 400  # contains the user name; the link stays usable
    no_csrf = env.client.post(link, data={"new_password": "brand-new-secret",
                                          "confirm": "brand-new-secret"})
    assert no_csrf.status_code == 403
    ok = env.client.post(link, data={"csrf_token": token, "new_password": "brand-new-secret",
                                     "confirm": "brand-new-secret"})
    assert ok.status_code == 200 and "changed" in ok.text
    again = env.client.post(link, data={"csrf_token": token, "new_password": "another-secret-1",
                                        "confirm": "another-secret-1"})
    assert again.status_code == 400 and "invalid or has expired" in again.text
    assert env.client.get(link).status_code == 400
    env.container.auth.verify_password("MAIN", "jdoe", "brand-new-secret")


def test_reset_link_expires_and_unknown_users_get_no_mail(env: Env) -> None:
    link = _reset_link(env)
    later = datetime.now(UTC) + timedelta(hours=2)
    env.container.auth._clock = lambda: later
    assert env.client.get(link).status_code == 400
    env.container.auth._clock = lambda: datetime.now(UTC)
    count = len(env.sink.messages)
    page = env.client.get("/auth/forgot")
    r = env.client.post("/auth/forgot", data={"csrf_token": _csrf(page.text),
                                              "institution": "MAIN", "username": "nobody"})
    assert r.status_code == 200 and "on its way" in r.text  # same answer
    time.sleep(0.2)
    assert len(env.sink.messages) == count
    assert env.client.get("/auth/reset/forged-token").status_code == 400
    assert env.client.get("/auth/reset/" + "x" * 5000).status_code == 400


# -- staff login report ------------------------------------------------------------------------

def test_staff_login_report(env: Env) -> None:
    assert login(env).status_code == 303
    assert login(env, "staffer", "wrong-password").status_code == 401
    assert login(env, "jdoe").status_code == 303  # a patron: not in the report
    url = "/almaws/v1/users/staff-login-report"
    ok = env.client.get(url, headers=h(env.ro_key)).json()
    assert ok["total_record_count"] == 1
    assert ok["login_event"][0]["user_name"] == "staffer"
    assert ok["login_event"][0]["successful"] is True
    failed = env.client.get(f"{url}?successful=failed-login-attempts", headers=h(env.key)).json()
    assert [e["successful"] for e in failed["login_event"]] == [False]
    every = env.client.get(f"{url}?successful=all&limit=1", headers=h(env.key)).json()
    assert every["total_record_count"] == 2 and len(every["login_event"]) == 1
    today = datetime.now(UTC).date()
    dated = env.client.get(
        f"{url}?successful=all&login_date_from={today}&login_date_to={today}",
        headers=h(env.key)).json()
    assert dated["total_record_count"] == 2
    none = env.client.get(f"{url}?login_date_to=2000-01-01", headers=h(env.key)).json()
    assert none["total_record_count"] == 0
    xml = env.client.get(url, headers={"Authorization": f"apikey {env.key}"})
    assert b"<login_events total_record_count=\"1\">" in xml.content
    assert env.client.get(url, headers=h(env.other_key)).json()["total_record_count"] == 0
    for bad in ("successful=maybe", "limit=101", "login_date_from=yesterday", "offset=-1"):
        r = env.client.get(f"{url}?{bad}", headers=h(env.key))
        assert (r.status_code, code_of(r)) == (400, "40166411"), bad
    assert env.client.get(url).status_code in (400, 403)


# -- just-in-time external logins ------------------------------------------------------------

def test_complete_external_login_creates_updates_and_denies(env: Env) -> None:
    auth = env.container.auth
    mapping = UserMapping(create_users=True, update_users=True,
                          fields={"first_name": "givenName", "email": "mail"},
                          identifiers={"UNIV_ID": "univId"}, default_user_group="GRAD",
                          expiry_days=30)
    ident = Identity(Method.SAML, "IDP1", "MAIN", "ext1",
                     {"givenName": ("Ann",), "mail": ("ann@example.edu",), "univId": ("U9",)})
    user = auth.complete_external_login(ident, mapping)
    assert (user.account_type, user.external_id, user.user_group) == ("EXTERNAL", "IDP1", "GRAD")
    assert [r.role_type for r in user.roles] == ["200"]  # assignment rules applied
    stored = env.container.users.get("MAIN", "U9")  # found by its identifier
    assert stored.primary_id == "ext1"
    again = auth.complete_external_login(
        Identity(Method.SAML, "IDP1", "MAIN", "ext1", {"givenName": ("Anne",)}), mapping)
    assert again.first_name == "Anne"
    with pytest.raises(LoginDenied):
        auth.complete_external_login(Identity(Method.CAS, "C", "MAIN", "nobody"), UserMapping())
    with pytest.raises(LoginDenied):
        auth.complete_external_login(Identity(Method.CAS, "C", "MAIN", "gone"), UserMapping())
    with pytest.raises(LoginDenied):  # a bad code from the IdP: refused, not a 500
        auth.complete_external_login(
            Identity(Method.OIDC, "O", "MAIN", "ext2", {"g": ("NOPE",)}),
            UserMapping(create_users=True, fields={"user_group": "g"}))
    assert auth.complete_external_login(
        Identity(Method.LDAP, "L", "MAIN", "jdoe"), UserMapping()).primary_id == "jdoe"


def test_cli_rotate_keys(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bookplate.cli.main import app

    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", env.container.settings.database_url)
    from bookplate.config import get_settings

    get_settings.cache_clear()
    try:
        before = env.container.discovery.jwks("MAIN")["keys"]
        result = CliRunner().invoke(app, ["auth", "rotate-keys", "MAIN"])
        assert result.exit_code == 0, result.output
        env.container.discovery._cache.clear()
        assert len(env.container.discovery.jwks("MAIN")["keys"]) == len(before) + 1
        assert CliRunner().invoke(app, ["auth", "rotate-keys", "NOPE"]).exit_code == 2
    finally:
        get_settings.cache_clear()
