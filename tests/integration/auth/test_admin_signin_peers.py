""""Test connection" of ``/staff/admin/sign-in`` against the real peers, on SQLite and
PostgreSQL: slapd (service bind and search base; a wrong service password; StartTLS and LDAPS
with the CA, and LDAPS without it: a TLS failure), SimpleSAMLphp's metadata URL (entity ID,
SSO URL, signing certificate), django-mama-cas (login page, a made-up ticket refused by the
validate URL) and the npm oidc-provider (discovery document, JWKS). Nobody is signed in: no
login event is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bookplate.auth.model import Method
from tests.functional.staff_pages import Site, site_for
from tests.integration.auth.conftest import (
    SERVICE_DN,
    SERVICE_PW,
    SUFFIX,
    CasServer,
    OidcServer,
    Slapd,
)
from tests.integration.auth.test_web_external import PUBLIC, database_url  # noqa: F401
from tests.integration.auth.test_web_simplesamlphp import ssp_idp  # noqa: F401

BASE = "/staff/admin/sign-in"
MAPPING = {"create_users": True, "default_user_group": "UNDERGRAD"}


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:  # noqa: F811
    yield from site_for(database_url, public_url=PUBLIC)


def _test(site: Site, method: str, code: str) -> str:
    r = site.post(f"{BASE}/{method}/{code}/test", {})
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    text = str(r.text)  # type: ignore[attr-defined]
    assert "Nobody was signed in" in text
    return text


def _add(site: Site, method: Method, code: str, config: dict[str, Any]) -> None:
    site.container.signin_admin.save("MAIN", method.value, code, {**config, "mapping": MAPPING},
                                     "test", None)


def test_ldap_against_slapd(site: Site, slapd: Slapd) -> None:
    base = f"ou=people,{SUFFIX}"
    _add(site, Method.LDAP, "dir", {"servers": [{"host": "127.0.0.1", "port": slapd.port}],
                                     "base_dn": base, "bind_dn": SERVICE_DN,
                                     "bind_password": SERVICE_PW})
    _add(site, Method.LDAP, "wrongpw", {"servers": [{"host": "127.0.0.1", "port": slapd.port}],
                                         "base_dn": base, "bind_dn": SERVICE_DN,
                                         "bind_password": "not-the-password"})
    _add(site, Method.LDAP, "nobase", {"servers": [{"host": "127.0.0.1", "port": slapd.port}],
                                        "base_dn": f"ou=nowhere,{SUFFIX}"})
    _add(site, Method.LDAP, "tls", {"servers": [
        {"host": "127.0.0.1", "port": slapd.port, "security": "starttls",
         "ca_file": slapd.ca_file},
        {"host": "127.0.0.1", "port": slapd.ldaps_port, "security": "ldaps",
         "ca_file": slapd.ca_file}], "base_dn": base})
    _add(site, Method.LDAP, "untrusted", {"servers": [
        {"host": "127.0.0.1", "port": slapd.ldaps_port, "security": "ldaps"}], "base_dn": base})
    site.sign_in("gsa")
    events_before = site.container.auth.store.events("MAIN", None, None, None, False, 100, 0)[1]
    text = _test(site, "ldap", "dir")
    assert "a problem was found" not in text
    assert f"Bind as {SERVICE_DN}" in text and "bind accepted" in text
    assert f"Read the search base {base}" in text and "the entry exists" in text
    assert SERVICE_PW not in text
    text = _test(site, "ldap", "wrongpw")
    assert "a problem was found" in text and "bad credentials" in text
    assert "not-the-password" not in text
    text = _test(site, "ldap", "nobase")
    assert "Bind as anonymous" in text and "noSuchObject" in text
    text = _test(site, "ldap", "tls")
    assert "a problem was found" not in text
    assert "(starttls)" in text and "(ldaps)" in text
    text = _test(site, "ldap", "untrusted")
    assert "a problem was found" in text and "TLS failure" in text
    # a test is not a sign-in: no login event, no lockout counted
    assert site.container.auth.store.events("MAIN", None, None, None, False, 100, 0)[1] == \
        events_before


def test_saml_against_simplesamlphp(site: Site, ssp_idp: str, tmp_path: Any) -> None:  # noqa: F811
    _add(site, Method.SAML, "ssp", {
        "sp_entity_id": f"{PUBLIC}/auth/saml/ssp/metadata",
        "acs_url": f"{PUBLIC}/auth/saml/ssp/acs", "sp_key_file": str(tmp_path / "k"),
        "sp_cert_file": str(tmp_path / "c"), "idp_metadata_url": ssp_idp})
    site.sign_in("gsa")
    text = _test(site, "saml", "ssp")
    assert "a problem was found" not in text, text
    assert f"fetched {ssp_idp} (HTTP 200" in text
    assert "saml2/idp/SSOService.php" in text and "SHA-256" in text
    assert ssp_idp in text  # SimpleSAMLphp's entity ID is its metadata URL


def test_cas_against_mama_cas(site: Site, cas_server: CasServer) -> None:
    _add(site, Method.CAS, "campus", {"server_url": cas_server.base,
                                       "allowed_services": [f"{PUBLIC}/auth/cas/"]})
    _add(site, Method.CAS, "v2", {"server_url": cas_server.base, "version": 2,
                                   "allowed_services": [f"{PUBLIC}/auth/cas/"]})
    site.sign_in("gsa")
    for code in ("campus", "v2"):
        text = _test(site, "cas", code)
        assert "a problem was found" not in text, text
        assert "answered a CAS refusal of a made-up ticket" in text
        assert "INVALID_TICKET" in text or "INVALID_SERVICE" in text


def test_oidc_against_oidc_provider(site: Site, oidc_server: OidcServer) -> None:
    _add(site, Method.OIDC, "op", {"issuer": oidc_server.issuer, "client_id": "svc-test",
                                    "client_secret": "svc-test-secret",
                                    "redirect_uri": oidc_server.redirect_uri})
    _add(site, Method.OIDC, "other", {"issuer": oidc_server.issuer + "/elsewhere",
                                       "client_id": "x", "redirect_uri": oidc_server.redirect_uri})
    site.sign_in("gsa")
    text = _test(site, "oidc", "op")
    assert "a problem was found" not in text, text
    assert "authorization_endpoint" in text and "jwks_uri" in text
    assert "key(s): RSA" in text
    assert "svc-test-secret" not in text
    text = _test(site, "oidc", "other")
    assert "a problem was found" in text and "HTTP 404" in text
