"""CAS adapter against django-mama-cas on loopback: good tickets (CAS 2 and 3), refusals for
forged, reused and wrong-service tickets, and bad input (malformed XML, entities, huge answers)."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from bookplate.auth.backends.cas import CasProfile, login_url, parse_response, validate
from bookplate.auth.errors import (
    AuthenticationFailed,
    ProfileInvalid,
    ProtocolRefused,
    ProviderUnavailable,
)
from bookplate.auth.model import Method
from tests.integration.auth.conftest import CAS_SERVICE, OTHER_SERVICE, CasServer, cas_login
from tests.integration.auth.peers import free_port


def profile(server: CasServer, **changes: object) -> CasProfile:
    base = CasProfile(
        institution="INST",
        code="main",
        server_url=server.base,
        allowed_services=("http://127.0.0.1:9999/auth/cas/",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_login_url(cas_server: CasServer) -> None:
    url = login_url(profile(cas_server), CAS_SERVICE)
    assert url.startswith(f"{cas_server.base}login?")
    assert parse_qs(urlsplit(url).query)["service"] == [CAS_SERVICE]


@pytest.mark.parametrize(
    "service",
    [
        "https://evil.example/auth/cas/",
        "http://127.0.0.1:9999.evil.example/auth/cas/",
        "http://user@127.0.0.1:9999/auth/cas/",
        "http://127.0.0.1:9999/elsewhere",
        "//evil.example/auth/cas/",
        "javascript:alert(1)",
        "",
        "http://127.0.0.1:9999/auth/cas/\r\nSet-Cookie: x=1",
        "http://127.0.0.1:9999/auth/cas/" + "a" * 5000,
    ],
)
def test_open_redirect_services_refused(cas_server: CasServer, service: str) -> None:
    with pytest.raises(ProtocolRefused):
        login_url(profile(cas_server), service)


def test_good_ticket_cas3_with_attributes(cas_server: CasServer) -> None:
    ticket = cas_login(cas_server, CAS_SERVICE)
    ident = validate(profile(cas_server), CAS_SERVICE, ticket)
    assert ident.method is Method.CAS
    assert (ident.subject, ident.profile, ident.institution) == ("jdoe", "main", "INST")
    assert ident.first("email") == "jdoe@example.org"
    assert ident.first("first_name") == "Jane"
    assert ident.first("last_name") == "Doe"


def test_good_ticket_cas2(cas_server: CasServer) -> None:
    ticket = cas_login(cas_server, CAS_SERVICE, "rroe", "Other-456")
    ident = validate(profile(cas_server, version=2), CAS_SERVICE, ticket)
    assert ident.subject == "rroe"


def test_reused_ticket_refused(cas_server: CasServer) -> None:
    ticket = cas_login(cas_server, CAS_SERVICE)
    validate(profile(cas_server), CAS_SERVICE, ticket)
    with pytest.raises(ProtocolRefused) as info:
        validate(profile(cas_server), CAS_SERVICE, ticket)
    assert "authentication failed" in str(info.value)
    assert "used" in info.value.reason  # mama-cas: "... has already been used"


def test_forged_ticket_refused(cas_server: CasServer) -> None:
    with pytest.raises(ProtocolRefused) as info:
        validate(profile(cas_server), CAS_SERVICE, "ST-1-forgedforgedforgedforged-cas")
    assert "INVALID_TICKET" in info.value.reason
    assert "ST-1" not in str(info.value)


def test_ticket_for_another_service_refused(cas_server: CasServer) -> None:
    # issued for another (CAS-registered) service, presented for ours
    ticket = cas_login(cas_server, OTHER_SERVICE)
    with pytest.raises(ProtocolRefused) as info:
        validate(profile(cas_server), CAS_SERVICE, ticket)
    assert "INVALID_SERVICE" in info.value.reason


def test_ticket_for_our_service_presented_with_other_service_refused(
    cas_server: CasServer,
) -> None:
    ticket = cas_login(cas_server, CAS_SERVICE)
    p = profile(cas_server, allowed_services=("http://127.0.0.1:9999/",))
    with pytest.raises(ProtocolRefused):
        validate(p, "http://127.0.0.1:9999/other", ticket)


@pytest.mark.parametrize(
    "ticket",
    ["", "ST-", "TGT-123-abc", "PGT-1-x", "ST-1\n", "ST-1&service=x", "ST-" + "a" * 300,
     "ST-<x>", "ST-ü"],
)
def test_malformed_tickets_refused_before_network(cas_server: CasServer, ticket: str) -> None:
    p = profile(cas_server, server_url=f"http://127.0.0.1:{free_port()}/cas/")  # nothing there
    with pytest.raises(ProtocolRefused):
        validate(p, CAS_SERVICE, ticket)


def test_server_down(cas_server: CasServer) -> None:
    p = profile(cas_server, server_url=f"http://127.0.0.1:{free_port()}/cas/", timeout_s=2)
    with pytest.raises(ProviderUnavailable):
        validate(p, CAS_SERVICE, "ST-1-abc")


NS = 'xmlns:cas="http://www.yale.edu/tp/cas"'


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<html><body>CAS</body></html>",
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess/></cas:serviceResponse>".encode(),
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user/>"
        "</cas:authenticationSuccess></cas:serviceResponse>".encode(),
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>a</cas:user>"
        "<cas:user>b</cas:user></cas:authenticationSuccess></cas:serviceResponse>".encode(),
        # entities: billion laughs and an external file
        f'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>&b;</cas:user>"
        "</cas:authenticationSuccess></cas:serviceResponse>".encode(),
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>&x;</cas:user>"
        "</cas:authenticationSuccess></cas:serviceResponse>".encode(),
        f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>"
        f"{'x' * 1000}</cas:user></cas:authenticationSuccess></cas:serviceResponse>".encode(),
    ],
)
def test_malformed_responses_refused(cas_server: CasServer, body: bytes) -> None:
    with pytest.raises(ProtocolRefused):
        parse_response(profile(cas_server), body)


def test_huge_or_broken_answers_through_http(cas_server: CasServer) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if "huge" in str(request.url):
            return httpx2.Response(200, content=b"<a>" + b"x" * 2_000_000 + b"</a>")
        return httpx2.Response(500, content=b"boom")

    for base in ("http://cas.test/huge/", "http://cas.test/err/"):
        with (httpx2.Client(transport=httpx2.MockTransport(handler)) as client,
              pytest.raises(AuthenticationFailed)):
            validate(profile(cas_server, server_url=base), CAS_SERVICE, "ST-1-abc",
                     client=client)


def test_profile_validation() -> None:
    with pytest.raises(ProfileInvalid):
        CasProfile("I", "c", server_url="ftp://x/", allowed_services=("http://a/",))
    with pytest.raises(ProfileInvalid):
        CasProfile("I", "c", server_url="https://cas/", allowed_services=())
