"""Sign-in hardening against the real peers (issue 14, items 4, 5 and 7), on SQLite and
PostgreSQL: LDAP binds (slapd) count towards the same lockout as Bookplate's own passwords;
a directory login never signs in as an internal staff account; login events carry the
client's address for LDAP, CAS, SAML and OIDC, and refused CAS, SAML and OIDC return legs
are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.auth.backends import oidc
from bookplate.auth.model import Method
from bookplate.auth.ports import LoginEvent
from bookplate.bootstrap import build_container
from bookplate.keys.services import parse_areas
from bookplate.users.model import Email, Role, User, UserInput
from tests.integration.auth.conftest import CasServer, OidcServer, Slapd, cas_login
from tests.integration.auth.peers import need
from tests.integration.auth.saml_idp import b64, idp_config, idp_metadata, keypair
from tests.integration.auth.test_web_external import (
    MAPPING,
    PUBLIC,
    App,
    _cas_config,
    _csrf,
    _ldap_config,
    _settings,
)

LDAP_PW = "Secret-123"  # jdoe's password in slapd
LOCAL_PW = "a-local-secret-1"


def _app(database_url: str, **settings: Any) -> Iterator[App]:
    config = _settings(database_url).model_copy(update=settings)
    container = build_container(config, migrate=True)
    container.add_institution("MAIN", "Main University")
    with TestClient(create_app(config, container), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield App(client, container)
    container.close()


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    yield from _app(database_url)


def _ldap(app: App, username: str, password: str) -> Any:
    page = app.client.get("/auth/login", params={"institution": "MAIN"})
    return app.client.post("/auth/login", data={
        "csrf_token": _csrf(page.text), "institution": "MAIN", "method": "ldap:dir",
        "username": username, "password": password, "next": "/auth/me"})


def _events(app: App) -> list[LoginEvent]:
    events, _ = app.container.auth.store.events("MAIN", None, None, None, False, 200, 0)
    return events


def _internal(primary_id: str, *, staff: bool = False) -> User:
    user = User(primary_id=primary_id, first_name="Jo", last_name="Internal",
                user_group="STAFF" if staff else "UNDERGRAD",
                record_type="STAFF" if staff else "PUBLIC")
    user.contact_info.emails = [Email(f"{primary_id}@library.example", email_types=["work"],
                                      preferred=True)]
    if staff:
        user.roles = [Role("21", "MAIN", "ACTIVE")]  # User Manager
    return user


# -- item 5: the lockout covers LDAP ------------------------------------------------------------


def test_fifteen_wrong_ldap_passwords_lock_the_account(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    assert _ldap(app, "jdoe", LDAP_PW).status_code == 303  # creates the user
    app.client.cookies.clear()
    for _ in range(15):
        assert _ldap(app, "jdoe", "wrong-password").status_code == 401
    refused = _ldap(app, "jdoe", LDAP_PW)  # the right password, while locked
    assert refused.status_code == 401 and "bp_session" not in refused.cookies
    assert app.container.auth.is_locked("MAIN", "jdoe")
    # a login Bookplate does not know yet is locked by its name
    for _ in range(15):
        assert _ldap(app, "rroe", "wrong-password").status_code == 401
    assert _ldap(app, "rroe", "Other-456").status_code == 401
    # an administrator's unlock opens it again
    assert app.container.auth.unlock("MAIN", "jdoe", "test")
    assert _ldap(app, "jdoe", LDAP_PW).status_code == 303
    reasons = [e.reason or "" for e in _events(app) if e.login_name == "jdoe" and not e.success]
    assert any("locked" in r for r in reasons)


def test_ldap_and_own_password_failures_share_one_count(database_url: str,
                                                        slapd: Slapd) -> None:
    for app in _app(database_url, lockout_failures=4):
        app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
        app.container.users.create("MAIN", UserInput(_internal("jdoe"), LOCAL_PW), "test")
        _, key = app.container.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 1000)
        for _ in range(2):
            r = app.client.post("/almaws/v1/users/jdoe?op=auth",
                                headers={"Authorization": f"apikey {key}",
                                         "Exl-User-Pw": quote("wrong-password")})
            assert r.status_code == 400
        for _ in range(2):
            assert _ldap(app, "jdoe", "wrong-password").status_code == 401
        assert _ldap(app, "jdoe", LDAP_PW).status_code == 401  # four failures: locked
        ok = app.client.post("/almaws/v1/users/jdoe?op=auth",
                             headers={"Authorization": f"apikey {key}",
                                      "Exl-User-Pw": quote(LOCAL_PW)})
        assert ok.status_code == 400


# -- item 4: a directory login never becomes internal staff -------------------------------------


def test_ldap_login_matching_internal_staff_is_refused(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    app.container.users.create("MAIN", UserInput(_internal("jdoe", staff=True), LOCAL_PW),
                               "test")
    r = _ldap(app, "jdoe", LDAP_PW)
    assert r.status_code == 401 and "bp_session" not in r.cookies
    stored = app.container.users.get("MAIN", "jdoe")
    assert (stored.first_name, stored.last_name) == ("Jo", "Internal")  # not Jane Doe
    assert [e.email_address for e in stored.contact_info.emails] == ["jdoe@library.example"]
    assert [r.role_type for r in stored.roles] == ["21"]


def test_ldap_login_of_an_internal_patron_keeps_its_data(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    app.container.users.create("MAIN", UserInput(_internal("jdoe"), LOCAL_PW), "test")
    assert _ldap(app, "jdoe", LDAP_PW).status_code == 303
    stored = app.container.users.get("MAIN", "jdoe")
    assert (stored.first_name, stored.account_type) == ("Jo", "INTERNAL")
    assert [e.email_address for e in stored.contact_info.emails] == ["jdoe@library.example"]


# -- item 7: login events ----------------------------------------------------------------------


def test_ldap_events_carry_the_address(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    assert _ldap(app, "jdoe", "wrong-password").status_code == 401
    assert _ldap(app, "jdoe", LDAP_PW).status_code == 303
    events = [e for e in _events(app) if e.method == "ldap"]
    assert {(e.success, e.address) for e in events} == {(False, "testclient"),
                                                       (True, "testclient")}


def test_cas_events_success_and_refusals(app: App, cas_server: CasServer) -> None:
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    start = app.client.get("/auth/cas/main/login", params={"institution": "MAIN"})
    service = parse_qs(urlsplit(start.headers["location"]).query)["service"][0]
    state = parse_qs(urlsplit(service).query)["state"][0]  # CAS state rides in the service
    ticket = cas_login(cas_server, service)
    assert app.client.get("/auth/cas/main/callback",
                          params={"state": state, "ticket": ticket}).status_code == 303
    app.client.get("/auth/cas/main/login", params={"institution": "MAIN"})
    forged = app.client.get("/auth/cas/main/callback", params={"ticket": "ST-1-forged"})
    assert forged.status_code == 401
    app.client.cookies.clear()  # no pending state at all: still recorded (one CAS profile)
    assert app.client.get("/auth/cas/main/callback", params={"ticket": ticket}).status_code == 401
    events = [(e.success, e.method, e.address, e.login_name) for e in _events(app)]
    assert (True, "cas", "testclient", "jdoe") in events
    assert events.count((False, "cas", "testclient", "")) == 2


def test_saml_refusal_is_recorded(app: App, tmp_path: Path) -> None:
    need("/usr/bin/xmlsec1")
    sp_cert, sp_key = keypair(tmp_path, "sp")
    idp_key = keypair(tmp_path, "idp")
    app.container.external.add(Method.SAML, "MAIN", "main", {
        "sp_entity_id": f"{PUBLIC}/auth/saml/main/metadata",
        "acs_url": f"{PUBLIC}/auth/saml/main/acs", "sp_key_file": sp_key,
        "sp_cert_file": sp_cert, "idp_metadata_xml": idp_metadata(idp_config(tmp_path,
                                                                              idp_key, [])),
        "user_id_attribute": "uid", "mapping": MAPPING})
    assert app.client.get("/auth/saml/main/login",
                          params={"institution": "MAIN"}).status_code == 303
    bad = app.client.post("/auth/saml/main/acs",
                          data={"SAMLResponse": b64("<nothing-signed/>")})
    assert bad.status_code == 401
    events = [(e.success, e.method, e.address) for e in _events(app)]
    assert events == [(False, "saml", "testclient")]


def test_oidc_events(app: App, oidc_server: OidcServer) -> None:
    from tests.integration.auth.conftest import oidc_browser_login

    oidc.forget_provider(oidc_server.issuer)
    app.container.external.add(Method.OIDC, "MAIN", "op", {
        "issuer": oidc_server.issuer, "client_id": "svc-test",
        "client_secret": "svc-test-secret", "redirect_uri": oidc_server.redirect_uri,
        "mapping": MAPPING})
    start = app.client.get("/auth/oidc/op/login", params={"institution": "MAIN"})
    callback = oidc_browser_login(oidc_server, start.headers["location"], "alice", "alice-pw")
    assert callback
    query = callback.split("?", 1)[1]
    assert app.client.get(f"/auth/oidc/op/callback?{query}").status_code == 303
    app.client.get("/auth/oidc/op/login", params={"institution": "MAIN"})
    denied = app.client.get("/auth/oidc/op/callback", params={"error": "access_denied"})
    assert denied.status_code == 401
    app.client.get("/auth/oidc/op/login", params={"institution": "MAIN"})
    wrong = app.client.get("/auth/oidc/op/callback", params={"code": "abc", "state": "nope"})
    assert wrong.status_code == 401
    events = [(e.success, e.method, e.address) for e in _events(app)]
    assert events.count((True, "oidc", "testclient")) == 1
    assert events.count((False, "oidc", "testclient")) == 2
