"""Binding a sign-in's answer to the provider and to the browser (issue 14 item 10), against
the real peers: the npm oidc-provider (RFC 9207 ``iss`` on the authorization response, which it
advertises) and django-mama-cas (a state in the CAS service URL, so a ticket minted for one
browser cannot be planted in another)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from bookplate.auth.backends import oidc
from bookplate.auth.backends.oidc import OidcProfile, finish, start
from bookplate.auth.errors import ProtocolRefused
from bookplate.auth.model import Method
from bookplate.users.errors import UserNotFound
from tests.integration.auth.conftest import CasServer, OidcServer, cas_login, oidc_browser_login
from tests.integration.auth.test_web_external import (  # noqa: F401  (fixtures)
    PUBLIC,
    App,
    _cas_config,
    _oidc_callback,
    _refused,
    _signed_in,
    app,
    database_url,
    oidc_profile,
)

# --- OIDC: RFC 9207 -------------------------------------------------------------------------


@pytest.fixture
def profile(oidc_server: OidcServer) -> OidcProfile:
    oidc.forget_provider(oidc_server.issuer)
    return OidcProfile(institution="INST", code="op", issuer=oidc_server.issuer,
                       client_id="svc-test", client_secret="svc-test-secret",
                       redirect_uri=oidc_server.redirect_uri)


def test_provider_advertises_and_sends_iss(oidc_server: OidcServer, profile: OidcProfile
                                           ) -> None:
    meta = oidc._provider(profile).meta
    assert meta["authorization_response_iss_parameter_supported"] is True
    url, state, nonce, verifier = start(profile)
    callback = oidc_browser_login(oidc_server, url, "alice", "alice-pw")
    assert callback
    q = parse_qs(urlsplit(callback).query)
    assert q["iss"] == [oidc_server.issuer]
    code = q["code"][0]
    # refused before the code goes to any token endpoint, so the same code still works after
    for iss, words in [(None, "no iss"), ("http://127.0.0.1:1", "is not the issuer"),
                       (oidc_server.issuer + "/", "is not the issuer"), ("", "not the issuer")]:
        with pytest.raises(ProtocolRefused) as info:
            finish(profile, code, state, state, nonce, verifier, iss=iss)
        assert words in info.value.reason, info.value.reason
    assert finish(profile, code, state, state, nonce, verifier,
                  iss=oidc_server.issuer).subject == "u-alice-0001"


def test_iss_compared_even_when_not_advertised(oidc_server: OidcServer, profile: OidcProfile
                                               ) -> None:
    meta = {**oidc._provider(profile).meta}
    meta.pop("authorization_response_iss_parameter_supported")
    oidc.check_response_issuer(profile, meta, None)  # a provider without RFC 9207: no iss
    with pytest.raises(ProtocolRefused):
        oidc.check_response_issuer(profile, meta, "http://evil.example")


def test_web_callback_without_or_with_another_iss_refused(
        app: App, oidc_server: OidcServer, oidc_profile: None) -> None:  # noqa: F811
    for change in ({"iss": None}, {"iss": "http://evil.example"}):
        q = {k: v[0] for k, v in parse_qs(_oidc_callback(app, oidc_server)).items()}
        assert q["iss"] == oidc_server.issuer
        for key, value in change.items():
            if value is None:
                q.pop(key)
            else:
                q[key] = value
        _refused(app.client.get(f"/auth/oidc/op/callback?{urlencode(q)}"))
    q = {k: v[0] for k, v in parse_qs(_oidc_callback(app, oidc_server)).items()}
    _signed_in(app, app.client.get(f"/auth/oidc/op/callback?{urlencode(q)}"))


# --- CAS: the ticket bound to the browser that asked for it ---------------------------------


def _cas_start(client: TestClient) -> tuple[str, str]:
    """(service URL the CAS server was given, its state)."""
    start = client.get("/auth/cas/main/login", params={"institution": "MAIN"})
    assert start.status_code == 303
    service = parse_qs(urlsplit(start.headers["location"]).query)["service"][0]
    return service, parse_qs(urlsplit(service).query).get("state", [""])[0]


def _where_cas_sends(service: str, ticket: str) -> str:
    """The path of the callback the CAS server redirects to: the service plus the ticket."""
    sep = "&" if "?" in service else "?"
    return f"{service.replace(PUBLIC, '')}{sep}{urlencode({'ticket': ticket})}"


def test_cas_state_round_trip(app: App, cas_server: CasServer) -> None:  # noqa: F811
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    service, state = _cas_start(app.client)
    assert service.startswith(f"{PUBLIC}/auth/cas/main/callback?state=") and len(state) >= 40
    ticket = cas_login(cas_server, service)
    _signed_in(app, app.client.get(_where_cas_sends(service, ticket)))
    # every start has its own state
    app.client.cookies.clear()
    assert _cas_start(app.client)[1] != state


def test_cas_ticket_planted_in_another_browser_refused(app: App,  # noqa: F811
                                                       cas_server: CasServer) -> None:
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    with TestClient(app.client.app, follow_redirects=False) as attacker:
        service, attacker_state = _cas_start(attacker)
        ticket = cas_login(cas_server, service, "rroe", "Other-456")  # the attacker's account
    # the victim's browser has a sign-in of its own under way (or was made to start one)
    _, victim_state = _cas_start(app.client)
    assert victim_state != attacker_state or not victim_state
    _refused(app.client.get(_where_cas_sends(service, ticket)))
    # nor without any state, nor with an empty one
    for params in ({"ticket": ticket}, {"ticket": ticket, "state": ""}):
        _cas_start(app.client)
        _refused(app.client.get("/auth/cas/main/callback", params=params))
    with pytest.raises(UserNotFound):  # nobody was signed in as the attacker
        app.container.users.get("MAIN", "rroe", "primary_id")
