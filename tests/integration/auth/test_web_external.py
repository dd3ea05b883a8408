"""External sign-in through HTTP against the real peers: LDAP through the password form
(slapd), CAS (django-mama-cas), SAML (in-process pysaml2 IdP; replay caught by the database
cache across two app instances), OIDC (npm oidc-provider); profiles stored in the database and
managed by the CLI; bad input on every route refused as "Authentication failed"."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.auth.backends import oidc
from bookplate.auth.backends.ldap import LdapProfile
from bookplate.auth.backends.saml import SamlProfile
from bookplate.auth.errors import ProfileInvalid
from bookplate.auth.model import Method
from bookplate.auth.profiles import from_config, public_config
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.users.model import SegmentType
from tests.integration.auth.conftest import (
    CAS_SERVICE,
    SERVICE_DN,
    SERVICE_PW,
    SUFFIX,
    CasServer,
    OidcServer,
    Slapd,
    cas_login,
    oidc_browser_login,
)
from tests.integration.auth.peers import need
from tests.integration.auth.saml_idp import InProcessIdP, b64, idp_config, idp_metadata, keypair
from tests.pg import PG_URL, postgres_schema

PUBLIC = "http://127.0.0.1:9999"
FAILED = "Authentication failed"
MAPPING = {"create_users": True, "update_users": True, "default_user_group": "UNDERGRAD",
           "expiry_days": 365}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/bookplate.db"
        return
    if not PG_URL:
        pytest.skip("BOOKPLATE_TEST_POSTGRES_URL not set")
    with postgres_schema() as url:
        yield url


@dataclass
class App:
    client: TestClient
    container: Container


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                    public_url=PUBLIC, session_cookie_secure=False)


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    container = build_container(_settings(database_url), migrate=True)
    container.add_institution("MAIN", "Main University")
    with TestClient(create_app(container.settings, container), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield App(client, container)
    container.close()


def _second(app: App) -> Iterator[App]:
    """Another app instance (another worker) on the same database."""
    container = build_container(app.container.settings)
    with TestClient(create_app(container.settings, container), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield App(client, container)
    container.close()


def _signed_in(app: App, response: Any, where: str = "/me") -> str:
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == where
    session = response.cookies.get("bp_session")
    assert session and session.startswith("bps_")
    me = app.client.get("/auth/me")
    assert me.status_code == 200
    return str(me.text)


def _refused(response: Any, status: int = 401) -> None:
    assert response.status_code == status, response.text[:300]
    assert FAILED in response.text
    assert "bp_session" not in response.cookies
    assert "Traceback" not in response.text


# --- LDAP through the password form ----------------------------------------------------------


def _ldap_config(slapd: Slapd) -> dict[str, Any]:
    return {
        "servers": [{"host": "127.0.0.1", "port": slapd.port}],
        "base_dn": f"ou=people,{SUFFIX}", "bind_dn": SERVICE_DN, "bind_password": SERVICE_PW,
        "attributes": ["cn", "givenName", "sn", "mail", "employeeNumber"],
        "label": "University account",
        "mapping": {**MAPPING, "fields": {"first_name": "givenName", "last_name": "sn",
                                          "email": "mail"},
                    "identifiers": {"UNIV_ID": "employeeNumber"}},
    }


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _ldap_post(app: App, username: str, password: str, next_url: str = "/auth/me") -> Any:
    page = app.client.get("/auth/login", params={"institution": "MAIN"})
    assert 'value="ldap:dir"' in page.text
    return app.client.post("/auth/login", data={
        "csrf_token": _csrf(page.text), "institution": "MAIN", "method": "ldap:dir",
        "username": username, "password": password, "next": next_url})


def test_ldap_login_form_creates_user_and_session(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    app.client.cookies.set("bp_session", "bps_planted-by-an-attacker")
    page = _ldap_post(app, "jdoe", "Secret-123")
    assert page.cookies.get("bp_session") != "bps_planted-by-an-attacker"  # no fixation
    assert "jdoe" in _signed_in(app, page)
    user = app.container.users.get("MAIN", "jdoe", "primary_id")
    assert (user.first_name, user.last_name, user.user_group) == ("Jane", "Doe", "UNDERGRAD")
    assert user.account_type == "EXTERNAL" and user.external_id == "dir"
    assert user.expiry_date is not None
    ids = {(i.id_type, i.value, i.segment_type) for i in user.identifiers}
    assert ("UNIV_ID", "1000001", SegmentType.EXTERNAL) in ids
    assert user.contact_info.emails[0].email_address == "jdoe@example.org"


def test_ldap_refusals(app: App, slapd: Slapd) -> None:
    app.container.external.add(Method.LDAP, "MAIN", "dir", _ldap_config(slapd))
    for username, password in [("jdoe", "wrong"), ("jdoe", ""), ("*)(uid=*", "x"),
                               ("nobody", "Secret-123"), ("jdoe", "x" * 1_000_000)]:
        page = _ldap_post(app, username, password)
        assert page.status_code in (400, 401) and FAILED in page.text
        assert "bp_session" not in page.cookies
    page = app.client.get("/auth/login", params={"institution": "MAIN"})
    forged = app.client.post("/auth/login", data={
        "csrf_token": _csrf(page.text), "institution": "MAIN", "method": "ldap:../../x",
        "username": "jdoe", "password": "Secret-123"})
    assert forged.status_code == 401 and FAILED in forged.text
    evil = _ldap_post(app, "jdoe", "Secret-123", next_url="https://evil.example/")
    assert evil.headers["location"] == "/me"  # open redirect refused: a patron lands on /me
    # the directory's refusals are in the login events too (staff login report)
    events, total = app.container.auth.store.events("MAIN", None, None, False, False, 50, 0)
    failed = [(e.login_name, e.method) for e in events]
    assert total >= 4
    assert ("jdoe", "ldap") in failed


# --- CAS --------------------------------------------------------------------------------------


def _cas_config(server: CasServer) -> dict[str, Any]:
    return {"server_url": server.base, "allowed_services": [f"{PUBLIC}/auth/cas/"],
            "mapping": {**MAPPING, "fields": {"first_name": "first_name",
                                              "last_name": "last_name", "email": "email"}}}


def test_cas_round_trip(app: App, cas_server: CasServer) -> None:
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    assert "/auth/cas/main/login" in app.client.get("/auth/login?institution=MAIN").text
    start = app.client.get("/auth/cas/main/login",
                           params={"institution": "MAIN", "next": "https://evil.example/"})
    assert start.status_code == 303
    location = start.headers["location"]
    assert location.startswith(f"{cas_server.base}login?")
    service = parse_qs(urlsplit(location).query)["service"][0]
    assert service.startswith(f"{CAS_SERVICE}?state=")  # the browser's state rides along
    state = parse_qs(urlsplit(service).query)["state"][0]
    ticket = cas_login(cas_server, service)
    done = app.client.get("/auth/cas/main/callback", params={"state": state, "ticket": ticket})
    _signed_in(app, done)  # next was off-site: home instead
    user = app.container.users.get("MAIN", "jdoe", "primary_id")
    assert user.first_name == "Jane" and user.account_type == "EXTERNAL"
    # the same ticket again (and the pending state is gone): refused
    app.client.cookies.clear()
    again = app.client.get("/auth/cas/main/login", params={"institution": "MAIN"})
    service = parse_qs(urlsplit(again.headers["location"]).query)["service"][0]
    _refused(app.client.get(f"{service.replace(PUBLIC, '')}&ticket={ticket}"))


def test_cas_bad_input(app: App, cas_server: CasServer) -> None:
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    _refused(app.client.get("/auth/cas/main/callback", params={"ticket": "ST-1-x"}))  # no state
    app.client.get("/auth/cas/main/login", params={"institution": "MAIN"})
    _refused(app.client.get("/auth/cas/main/callback", params={"ticket": "ST-1-forged"}))
    for ticket in ["", "<x/>", "ST-" + "a" * 5000, "PGT-1-abc"]:
        app.client.get("/auth/cas/main/login", params={"institution": "MAIN"})
        _refused(app.client.get("/auth/cas/main/callback", params={"ticket": ticket}))
    _refused(app.client.get("/auth/cas/nope/login", params={"institution": "MAIN"}))


# --- SAML -------------------------------------------------------------------------------------


@dataclass
class SamlWorld:
    profile: SamlProfile
    idp: InProcessIdP


@pytest.fixture
def saml(app: App, tmp_path: Path) -> SamlWorld:
    need("/usr/bin/xmlsec1")
    sp_cert, sp_key = keypair(tmp_path, "sp")
    idp_key = keypair(tmp_path, "idp")
    config = {
        "sp_entity_id": f"{PUBLIC}/auth/saml/main/metadata",
        "acs_url": f"{PUBLIC}/auth/saml/main/acs",
        "sp_key_file": sp_key, "sp_cert_file": sp_cert,
        "idp_metadata_xml": idp_metadata(idp_config(tmp_path, idp_key, [])),
        "user_id_attribute": "uid",
        "mapping": {**MAPPING, "fields": {"first_name": "givenName", "last_name": "sn",
                                          "email": "mail"}},
    }
    profile, _ = app.container.external.add(Method.SAML, "MAIN", "main", config)
    assert isinstance(profile, SamlProfile)
    return SamlWorld(profile, InProcessIdP(tmp_path, [profile], idp_key))


def _saml_start(app: App, world: SamlWorld, next_url: str = "/auth/me") -> str:
    start = app.client.get("/auth/saml/main/login",
                           params={"institution": "MAIN", "next": next_url})
    assert start.status_code == 303, start.text[:300]
    return world.idp.respond(start.headers["location"])


def test_saml_metadata_endpoint(app: App, saml: SamlWorld) -> None:
    md = app.client.get("/auth/saml/main/metadata")
    assert md.status_code == 200 and "samlmetadata" in md.headers["content-type"]
    assert saml.profile.sp_entity_id in md.text and saml.profile.acs_url in md.text
    assert app.client.get("/auth/saml/nope/metadata").status_code == 404
    assert app.client.get("/auth/saml/..%2f/metadata").status_code == 404


def test_saml_round_trip_and_replay_across_instances(app: App, saml: SamlWorld) -> None:
    assert "/auth/saml/main/login" in app.client.get("/auth/login?institution=MAIN").text
    xml = _saml_start(app, saml, "/auth/me?tab=1")
    browser_state = app.client.cookies.get("bp_sso") or ""
    done = app.client.post("/auth/saml/main/acs",
                           data={"SAMLResponse": b64(xml), "RelayState": "https://evil.example/"})
    _signed_in(app, done, "/auth/me?tab=1")
    user = app.container.users.get("MAIN", "jdoe", "primary_id")
    assert user.first_name == "Jane" and user.external_id == "main"
    # The captured response replayed at another worker, with the same browser state.
    for other in _second(app):
        other.client.cookies.set("bp_sso", browser_state)
        with structlog.testing.capture_logs() as logs:
            _refused(other.client.post("/auth/saml/main/acs", data={"SAMLResponse": b64(xml)}))
        assert any("replayed" in str(e.get("reason", "")) for e in logs), logs


def test_saml_refusals(app: App, saml: SamlWorld) -> None:
    xml = _saml_start(app, saml)
    tampered = xml.replace("jdoe@example.org", "evil@example.org")
    _refused(app.client.post("/auth/saml/main/acs", data={"SAMLResponse": b64(tampered)}))
    body = re.sub(r"^<\?xml[^>]*\?>", "", xml)
    entity = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + body.replace(
        "jdoe@example.org", "&x;")
    _refused(app.client.post("/auth/saml/main/acs", data={"SAMLResponse": b64(entity)}))
    for value in ["", "!!!", base64.b64encode(b"<a/>").decode(), "A" * (600 * 1024)]:
        _refused(app.client.post("/auth/saml/main/acs", data={"SAMLResponse": value}))
    huge = app.client.post("/auth/saml/main/acs", data={"SAMLResponse": "A" * 3_000_000})
    _refused(huge, 400)
    _refused(app.client.post("/auth/saml/main/acs", content=b"\xff\xfe",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
    # no pending state in this browser: refused (unsolicited)
    app.client.cookies.clear()
    _refused(app.client.post("/auth/saml/main/acs", data={"SAMLResponse": b64(xml)}))
    _refused(app.client.get("/auth/saml/nope/login"))


# --- OpenID Connect ---------------------------------------------------------------------------


@pytest.fixture
def oidc_profile(app: App, oidc_server: OidcServer) -> None:
    oidc.forget_provider(oidc_server.issuer)
    app.container.external.add(Method.OIDC, "MAIN", "op", {
        "issuer": oidc_server.issuer, "client_id": "svc-test",
        "client_secret": "svc-test-secret", "redirect_uri": oidc_server.redirect_uri,
        "mapping": {**MAPPING, "fields": {"first_name": "given_name", "email": "email"}},
    })


def _oidc_callback(app: App, server: OidcServer, next_url: str = "/auth/me") -> str:
    start = app.client.get("/auth/oidc/op/login", params={"institution": "MAIN",
                                                          "next": next_url})
    assert start.status_code == 303
    callback = oidc_browser_login(server, start.headers["location"], "alice", "alice-pw")
    assert callback
    return urlsplit(callback).query


def test_oidc_round_trip(app: App, oidc_server: OidcServer, oidc_profile: None) -> None:
    assert "/auth/oidc/op/login" in app.client.get("/auth/login?institution=MAIN").text
    query = _oidc_callback(app, oidc_server, "//evil.example/")
    _signed_in(app, app.client.get(f"/auth/oidc/op/callback?{query}"))
    user = app.container.users.get("MAIN", "u-alice-0001", "primary_id")
    assert user.first_name == "Alice" and user.user_group == "UNDERGRAD"
    # the same code again: the pending state is used up
    _refused(app.client.get(f"/auth/oidc/op/callback?{query}"))


def test_oidc_bad_state(app: App, oidc_server: OidcServer, oidc_profile: None) -> None:
    query = parse_qs(_oidc_callback(app, oidc_server))
    _refused(app.client.get("/auth/oidc/op/callback",
                            params={"code": query["code"][0], "state": "wrong"}))
    query = parse_qs(_oidc_callback(app, oidc_server))
    _refused(app.client.get("/auth/oidc/op/callback", params={"code": query["code"][0]}))
    _refused(app.client.get("/auth/oidc/op/callback", params={"error": "access_denied"}))
    app.client.cookies.clear()
    _refused(app.client.get("/auth/oidc/op/callback", params={"code": "abc", "state": "x"}))


# --- profiles: configuration and CLI ----------------------------------------------------------


def test_profile_config_checked(slapd: Slapd) -> None:
    good = _ldap_config(slapd)
    profile = from_config(Method.LDAP, "MAIN", "dir", good)
    assert isinstance(profile, LdapProfile)
    assert profile.mapping.create_users and profile.servers[0].port == slapd.port
    assert public_config(good)["bind_password"] == "********"
    for bad, words in [({**good, "servers": []}, "1 to 5"),
                       ({**good, "colour": "red"}, "unknown setting"),
                       ({**good, "servers": [{"host": 1}]}, "servers[0].host"),
                       ({**good, "mapping": {"create_users": "yes"}}, "create_users"),
                       ({k: v for k, v in good.items() if k != "servers"}, "servers")]:
        with pytest.raises(ProfileInvalid) as info:
            from_config(Method.LDAP, "MAIN", "dir", bad)
        assert words in str(info.value)
    with pytest.raises(ProfileInvalid):
        from_config(Method.LDAP, "MAIN", "../x", good)


def test_cli_profiles(app: App, slapd: Slapd, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bookplate.cli.main import app as cli
    from bookplate.config import get_settings

    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", app.container.settings.database_url)
    get_settings.cache_clear()
    try:
        path = tmp_path / "ldap.json"
        path.write_text(json.dumps(_ldap_config(slapd)))
        run = CliRunner().invoke
        added = run(cli, ["auth", "ldap", "add", "MAIN", "dir", "--config", str(path)])
        assert added.exit_code == 0 and "Added" in added.output, added.output
        listed = run(cli, ["auth", "ldap", "list", "MAIN"])
        assert listed.exit_code == 0 and "dir" in listed.output
        assert SERVICE_PW not in listed.output and "********" in listed.output
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**_ldap_config(slapd), "servers": []}))
        refused = run(cli, ["auth", "ldap", "add", "MAIN", "x", "--config", str(bad)])
        assert refused.exit_code == 2 and "1 to 5" in refused.output
        assert SERVICE_PW not in refused.output
        bad.write_text("{not json")
        assert run(cli, ["auth", "ldap", "add", "MAIN", "x", "--config", str(bad)]).exit_code == 2
        assert run(cli, ["auth", "cas", "add", "NOPE", "x", "--config", str(path)]).exit_code == 2
        assert run(cli, ["auth", "ldap", "remove", "MAIN", "dir"]).exit_code == 0
        assert run(cli, ["auth", "ldap", "remove", "MAIN", "dir"]).exit_code == 2
    finally:
        get_settings.cache_clear()
