"""Every URL of external sign-in answers as it did before the routes became one generic
``/auth/{method}/{code}/{endpoint}`` route (identity providers have these URLs configured):
status, content type, ``Allow``, redirect target, the pending-sign-in cookie and, for plain
text, the body; refused return legs are still login events. On SQLite and PostgreSQL.

The answers here need no peer (no network: the CAS and OIDC servers are a closed port); the
round trips against the real peers are in ``test_web_external.py`` and ``test_signin_peers.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.auth.backends.base import RedirectDefaults
from bookplate.auth.backends.saml import MemoryReplayCache
from bookplate.auth.errors import ProtocolRefused
from bookplate.auth.model import Identity, Method
from bookplate.auth.ports import BackendContext, Leg, RedirectBackend, Started
from bookplate.bootstrap import build_container
from tests.integration.auth.peers import free_port, need
from tests.integration.auth.saml_idp import idp_config, idp_metadata, keypair
from tests.integration.auth.test_web_external import PUBLIC, App, _settings

FAILED = "Authentication failed"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
XML = "application/xml"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[App]:
    need("/usr/bin/xmlsec1")
    container = build_container(_settings(database_url), migrate=True)
    container.add_institution("MAIN", "Main University")
    sp_cert, sp_key = keypair(tmp_path, "sp")
    idp_key = keypair(tmp_path, "idp")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    container.external.add(Method.SAML, "MAIN", "main", {
        "sp_entity_id": f"{PUBLIC}/auth/saml/main/metadata",
        "acs_url": f"{PUBLIC}/auth/saml/main/acs", "sp_key_file": sp_key,
        "sp_cert_file": sp_cert, "idp_metadata_xml": idp_metadata(idp_config(tmp_path, idp_key,
                                                                              []))})
    container.external.add(Method.CAS, "MAIN", "main", {
        "server_url": f"{down}/cas/", "allowed_services": [f"{PUBLIC}/auth/cas/"]})
    container.external.add(Method.OIDC, "MAIN", "op", {
        "issuer": down, "client_id": "bookplate",
        "redirect_uri": f"{PUBLIC}/auth/oidc/op/callback"})
    container.external.add(Method.LDAP, "MAIN", "dir", {
        "servers": [{"host": "127.0.0.1", "port": free_port()}], "base_dn": "dc=example",
        "label": "Campus directory"})
    with TestClient(create_app(container.settings, container), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield App(client, container)
    container.close()


# (HTTP method, path, query, form) -> (status, content type, Allow, Location prefix,
# bp_sso cookie set, body: FAILED in the page / exact plain text / Alma error code / None)
CASES: list[tuple[str, str, dict[str, str] | None, dict[str, str] | None,
                  tuple[int, str | None, str | None, str, bool, str | None]]] = [
    # SAML: metadata, start, ACS, single logout
    ("GET", "/auth/saml/main/metadata", None, None,
     (200, "application/samlmetadata+xml", None, "", False, None)),
    ("GET", "/auth/saml/nope/metadata", None, None, (404, TEXT, None, "", False, "Not found")),
    ("POST", "/auth/saml/main/metadata", None, None,
     (405, XML, "GET", "", False, "METHOD_NOT_ALLOWED")),
    ("HEAD", "/auth/saml/main/metadata", None, None, (405, XML, "GET", "", False, None)),
    ("GET", "/auth/saml/main/login", {"institution": "MAIN"}, None,
     (303, None, None, "http://127.0.0.1:8088/idp/sso/redirect?SAMLRequest=", True, None)),
    ("GET", "/auth/saml/nope/login", None, None, (401, HTML, None, "", False, FAILED)),
    ("PUT", "/auth/saml/main/login", None, None,
     (405, XML, "GET", "", False, "METHOD_NOT_ALLOWED")),
    ("POST", "/auth/saml/main/acs", None, {"SAMLResponse": "eA=="},
     (401, HTML, None, "", False, FAILED)),
    ("POST", "/auth/saml/main/acs", None, None, (401, HTML, None, "", False, FAILED)),
    ("GET", "/auth/saml/main/acs", None, None,
     (405, XML, "POST", "", False, "METHOD_NOT_ALLOWED")),
    ("GET", "/auth/saml/main/slo", None, None, (400, HTML, None, "", False, FAILED)),
    ("GET", "/auth/saml/main/slo", {"SAMLRequest": "x"}, None,
     (401, HTML, None, "", False, FAILED)),  # the profile has no single logout
    ("GET", "/auth/saml/main/slo", {"SAMLResponse": "x"}, None,
     (303, None, None, "/auth/login", False, None)),  # unreadable answer: signed out anyway
    ("POST", "/auth/saml/main/slo", None, None,
     (405, XML, "GET", "", False, "METHOD_NOT_ALLOWED")),
    ("GET", "/auth/saml/main/callback", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    # CAS: start, callback, back-channel logout on the callback
    ("GET", "/auth/cas/main/login", {"institution": "MAIN"}, None,
     (303, None, None, "http://127.0.0.1:", True, None)),
    ("GET", "/auth/cas/main/callback", {"ticket": "ST-1-x"}, None,
     (401, HTML, None, "", False, FAILED)),
    ("POST", "/auth/cas/main/callback", None, {"logoutRequest": "<x/>"},
     (400, TEXT, None, "", False, "Refused")),
    ("POST", "/auth/cas/main/callback", None, None, (400, TEXT, None, "", False, "Refused")),
    ("POST", "/auth/cas/main/login", None, None,
     (405, XML, "GET", "", False, "METHOD_NOT_ALLOWED")),
    ("GET", "/auth/cas/main/acs", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    ("GET", "/auth/cas/main/metadata", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    # OIDC: start (provider down), callback
    ("GET", "/auth/oidc/op/login", {"institution": "MAIN"}, None,
     (401, HTML, None, "", False, FAILED)),
    ("GET", "/auth/oidc/op/callback", {"error": "access_denied"}, None,
     (401, HTML, None, "", False, FAILED)),
    ("GET", "/auth/oidc/op/callback", {"code": "x", "state": "y"}, None,
     (401, HTML, None, "", False, FAILED)),
    ("POST", "/auth/oidc/op/callback", None, None,
     (405, XML, "GET", "", False, "METHOD_NOT_ALLOWED")),
    # no such routes: LDAP signs in on the password form; unknown methods
    ("GET", "/auth/ldap/dir/login", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    ("GET", "/auth/local/x/login", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    ("GET", "/auth/nope/x/login", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    ("GET", "/auth/saml/main/login/x", None, None, (404, XML, None, "", False, "NOT_FOUND")),
    ("GET", "/auth/saml/main/metadata/", None, None,
     (307, None, None, "http://testserver/auth/saml/main/metadata", False, None)),
]


@pytest.mark.parametrize(("method", "path", "query", "form", "expected"), CASES,
                         ids=[f"{c[0]} {c[1]} {sorted(c[2] or c[3] or {})}" for c in CASES])
def test_every_external_url_answers_as_before(world: App, method: str, path: str,
                                              query: dict[str, str] | None,
                                              form: dict[str, str] | None,
                                              expected: tuple[Any, ...]) -> None:
    status, content_type, allow, location, sso_cookie, body = expected
    r = world.client.request(method, path, params=query, data=form)
    assert r.status_code == status, r.text[:300]
    assert r.headers.get("content-type") == content_type
    assert r.headers.get("allow") == allow
    assert (r.headers.get("location") or "").startswith(location)
    assert ("bp_sso=" in r.headers.get("set-cookie", "")) is sso_cookie
    assert "bp_session" not in r.cookies
    if body == FAILED:
        assert FAILED in r.text and "Traceback" not in r.text
        assert r.headers.get("cache-control") == "no-store"
    elif body is not None and content_type == TEXT:
        assert r.text == body
    elif body is not None:
        assert f"<errorCode>{body}</errorCode>" in r.text
    if status == 303 and sso_cookie:
        assert r.headers.get("cache-control") == "no-store"


def test_start_redirects_carry_what_the_provider_needs(world: App) -> None:
    from urllib.parse import parse_qs, urlsplit

    cas = world.client.get("/auth/cas/main/login", params={"institution": "MAIN",
                                                           "next": "/auth/me"})
    service = parse_qs(urlsplit(cas.headers["location"]).query)["service"][0]
    assert service.startswith(f"{PUBLIC}/auth/cas/main/callback?state=")
    saml = world.client.get("/auth/saml/main/login", params={"institution": "MAIN"})
    assert "SAMLRequest" in parse_qs(urlsplit(saml.headers["location"]).query)


def test_refused_return_legs_are_login_events(world: App) -> None:
    world.client.get("/auth/oidc/op/callback", params={"error": "access_denied"})
    world.client.get("/auth/cas/main/callback", params={"ticket": "ST-1-x"})
    world.client.post("/auth/saml/main/acs", data={"SAMLResponse": "eA=="})
    world.client.get("/auth/saml/nope/login")  # no profile: nothing to record
    events, _ = world.container.auth.store.events("MAIN", None, None, None, False, 50, 0)
    reasons = sorted((e.method, e.success, e.login_name, e.reason or "") for e in events)
    assert [r[:3] for r in reasons] == [("cas", False, ""), ("oidc", False, ""),
                                        ("saml", False, "")]
    assert reasons[1][3] == "op: provider error access_denied"
    assert reasons[0][3].startswith("main: ")


def test_login_page_offers_every_profile(world: App) -> None:
    page = world.client.get("/auth/login", params={"institution": "MAIN"}).text
    assert '<option value="ldap:dir">Campus directory</option>' in page
    for start in ("/auth/saml/main/login?institution=MAIN",
                  "/auth/cas/main/login?institution=MAIN",
                  "/auth/oidc/op/login?institution=MAIN"):
        assert f'href="{start}&amp;next=' in page


class _EchoBackend(RedirectDefaults):
    """A redirect method whose 'provider' vouches for whoever the return leg names, when it
    brings back the state of its start: enough to show that the routes, the pending state,
    the sign-in and the events are the interface's, not one method's. What it does not offer
(metadata, single logout) comes from ``RedirectDefaults``, as for a real backend."""

    endpoints = {("GET", "login"): Leg.START, ("GET", "back"): Leg.FINISH}
    keeps_pending = False

    def start(self, profile: Any, next_url: str) -> Started:
        return Started("https://provider.example/sign-in?state=s1", {"state": "s1"})

    def finish(self, profile: Any, pending: Mapping[str, Any], callback: Mapping[str, str]
               ) -> Identity:
        if callback.get("state") != pending.get("state"):
            raise ProtocolRefused("state differs")
        return Identity(Method.CAS, profile.code, profile.institution, callback["user"],
                        {"sn": ("Echo",)})


def test_the_routes_are_the_backends_declarations(world: App) -> None:
    world.container.external.add(Method.CAS, "MAIN", "echo", {
        "server_url": "http://127.0.0.1:9/cas/", "allowed_services": [f"{PUBLIC}/auth/cas/"],
        "mapping": {"create_users": True, "default_user_group": "UNDERGRAD",
                    "fields": {"last_name": "sn"}}})
    backend: RedirectBackend = _EchoBackend(BackendContext(MemoryReplayCache(), PUBLIC))
    world.container.external.redirect_backends[Method.CAS] = backend
    client = world.client
    start = client.get("/auth/cas/echo/login", params={"institution": "MAIN",
                                                       "next": "/auth/me"})
    assert start.status_code == 303
    assert start.headers["location"] == "https://provider.example/sign-in?state=s1"
    assert client.get("/auth/cas/echo/callback").status_code == 404  # not declared any more
    assert client.post("/auth/cas/echo/back").headers.get("allow") == "GET"
    assert client.get("/auth/cas/echo/back",
                      params={"state": "s2", "user": "jdoe"}).status_code == 401
    client.get("/auth/cas/echo/login", params={"institution": "MAIN", "next": "/auth/me"})
    done = client.get("/auth/cas/echo/back", params={"state": "s1", "user": "jdoe"})
    assert done.status_code == 303 and done.headers["location"] == "/me"
    assert "bp_session" in done.cookies
    assert world.container.users.get("MAIN", "jdoe", "primary_id").last_name == "Echo"
    events, _ = world.container.auth.store.events("MAIN", None, None, None, False, 50, 0)
    assert sorted((e.success, e.reason or "") for e in events) == [
        (False, "echo: state differs"), (True, "")]


def test_every_registered_backend_has_a_start_and_one_return_leg() -> None:
    from bookplate.auth.backends import PASSWORD_BACKENDS, REDIRECT_BACKENDS

    methods = [b.method for b in (*PASSWORD_BACKENDS, *REDIRECT_BACKENDS)]
    assert len(methods) == len(set(methods)) and Method.LOCAL not in methods
    for b in REDIRECT_BACKENDS:
        legs = list(b.endpoints.items()) if hasattr(b, "endpoints") else []
        assert (("GET", "login"), Leg.START) in legs, b
        assert [leg for _, leg in legs].count(Leg.FINISH) == 1, b
    for b in (*PASSWORD_BACKENDS, *REDIRECT_BACKENDS):
        names = {f.name for f in dataclasses.fields(b.profile_type)}
        assert {"institution", "code", "mapping"} <= names
        assert b.secret_settings <= names
