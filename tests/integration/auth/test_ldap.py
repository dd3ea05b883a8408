"""LDAP adapter against a real slapd on loopback: search-then-bind, direct bind, StartTLS,
LDAPS, failover, and refusals (wrong/empty passwords, injection strings, huge input)."""

from __future__ import annotations

import dataclasses

import pytest

from bookplate.auth.backends.ldap import LdapProfile, LdapServer, authenticate
from bookplate.auth.errors import (
    AuthenticationFailed,
    BadCredentials,
    ProfileInvalid,
    ProviderUnavailable,
)
from bookplate.auth.model import Method, UserMapping
from tests.integration.auth.conftest import SERVICE_DN, SERVICE_PW, SUFFIX, Slapd
from tests.integration.auth.peers import free_port


def profile(slapd: Slapd, **changes: object) -> LdapProfile:
    base = LdapProfile(
        institution="INST",
        code="main",
        servers=(LdapServer("127.0.0.1", slapd.port),),
        base_dn=f"ou=people,{SUFFIX}",
        bind_dn=SERVICE_DN,
        bind_password=SERVICE_PW,
        attributes=("cn", "givenName", "sn", "mail", "employeeNumber"),
        mapping=UserMapping(match_id_type="primary_id"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_search_then_bind(slapd: Slapd) -> None:
    ident = authenticate(profile(slapd), "jdoe", "Secret-123")
    assert ident.method is Method.LDAP
    assert (ident.institution, ident.profile, ident.subject) == ("INST", "main", "jdoe")
    assert ident.first("mail") == "jdoe@example.org"
    assert ident.first("employeeNumber") == "1000001"
    assert ident.first("dn") == f"uid=jdoe,ou=people,{SUFFIX}"


def test_anonymous_search_then_bind(slapd: Slapd) -> None:
    ident = authenticate(profile(slapd, bind_dn=None, bind_password=None), "rroe", "Other-456")
    assert ident.first("givenName") == "Richard"


def test_login_attribute_mail(slapd: Slapd) -> None:
    ident = authenticate(profile(slapd, login_attribute="mail"), "jdoe@example.org", "Secret-123")
    assert ident.subject == "jdoe@example.org"
    assert ident.first("dn") == f"uid=jdoe,ou=people,{SUFFIX}"


def test_direct_bind(slapd: Slapd) -> None:
    p = profile(slapd, dn_template=f"uid={{login}},ou=people,{SUFFIX}", bind_dn=None,
                bind_password=None)
    assert authenticate(p, "jdoe", "Secret-123").first("sn") == "Doe"
    with pytest.raises(BadCredentials):
        authenticate(p, "jdoe", "wrong")
    with pytest.raises(AuthenticationFailed):
        authenticate(p, "nobody-here", "Secret-123")


def test_starttls_with_self_signed_ca(slapd: Slapd) -> None:
    server = LdapServer("127.0.0.1", slapd.port, security="starttls", ca_file=slapd.ca_file)
    assert authenticate(profile(slapd, servers=(server,)), "jdoe", "Secret-123").subject == "jdoe"


def test_ldaps_with_self_signed_ca(slapd: Slapd) -> None:
    server = LdapServer("127.0.0.1", slapd.ldaps_port, security="ldaps", ca_file=slapd.ca_file)
    assert authenticate(profile(slapd, servers=(server,)), "jdoe", "Secret-123").subject == "jdoe"


def test_tls_with_untrusted_certificate_fails_closed(slapd: Slapd) -> None:
    # the system trust store does not know the self-signed CA: no fallback to plain text
    server = LdapServer("127.0.0.1", slapd.port, security="starttls", timeout_s=3)
    with pytest.raises(ProviderUnavailable):
        authenticate(profile(slapd, servers=(server,)), "jdoe", "Secret-123")


def test_failover_first_server_dead(slapd: Slapd) -> None:
    dead = LdapServer("127.0.0.1", free_port(), timeout_s=2)
    p = profile(slapd, servers=(dead, LdapServer("127.0.0.1", slapd.port)))
    assert authenticate(p, "jdoe", "Secret-123").subject == "jdoe"


def test_all_servers_dead(slapd: Slapd) -> None:
    p = profile(slapd, servers=tuple(LdapServer("127.0.0.1", free_port(), timeout_s=1)
                                     for _ in range(2)))
    with pytest.raises(ProviderUnavailable) as info:
        authenticate(p, "jdoe", "Secret-123")
    assert str(info.value) == "User authentication failed"


def test_wrong_service_password_is_unavailable_not_a_crash(slapd: Slapd) -> None:
    with pytest.raises(ProviderUnavailable):
        authenticate(profile(slapd, bind_password="nope"), "jdoe", "Secret-123")


@pytest.mark.parametrize(
    ("login", "password"),
    [
        ("jdoe", "wrong"),
        ("jdoe", ""),  # empty password = anonymous bind: refused before the network
        ("nopw", ""),
        ("nopw", "x"),
        ("", "Secret-123"),
        ("unknown", "Secret-123"),
        ("*", "Secret-123"),
        ("j*", "Secret-123"),
        ("*)(uid=*", "Secret-123"),
        ("jdoe)(uid=*", "Secret-123"),
        ("jdoe)(|(uid=*", "Secret-123"),
        ("jdoe\x00", "Secret-123"),
        ("jdoe\\00", "Secret-123"),
        ("jdoe", "Secret-123\x00"),
        ("x" * 10_000, "Secret-123"),
        ("jdoe", "p" * 1_000_000),
        ("uid=jdoe,ou=people,dc=example,dc=org", "Secret-123"),
    ],
)
def test_refused(slapd: Slapd, login: str, password: str) -> None:
    for p in (profile(slapd),
              profile(slapd, dn_template=f"uid={{login}},ou=people,{SUFFIX}", bind_dn=None,
                      bind_password=None)):
        with pytest.raises(BadCredentials) as info:
            authenticate(p, login, password)
        assert str(info.value) == "User authentication failed"


def test_unicode_login_and_password(slapd: Slapd) -> None:
    assert authenticate(profile(slapd), "zoë", "Pässwörd-789").subject == "zoë"


def test_profile_validation() -> None:
    with pytest.raises(ProfileInvalid):
        LdapProfile("I", "c", servers=())
    with pytest.raises(ProfileInvalid):
        LdapProfile("I", "c", servers=tuple(LdapServer("h") for _ in range(6)), base_dn="o=x")
    with pytest.raises(ProfileInvalid):
        LdapProfile("I", "c", servers=(LdapServer("h"),), dn_template="uid=x")
    with pytest.raises(ProfileInvalid):
        LdapProfile("I", "c", servers=(LdapServer("h"),), base_dn="o=x", user_filter="x")
