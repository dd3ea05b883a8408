"""``/staff/admin/sign-in``: sign-in profiles through create_app on SQLite and PostgreSQL --
add and edit each method with its settings, secrets never sent back, enable and disable
(the sign-in page follows), delete with the code typed, SP metadata, the URLs to register,
history rows, bad input on every form, and the 403s (a user administrator and a user manager
do not hold the privilege). Test connection against the real peers is in
tests/integration/auth/test_admin_signin_peers.py; here, against a dead port."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bookplate.auth.model import Method
from tests.functional.staff_pages import Site, site_for
from tests.integration.auth.saml_idp import IDP_ID, idp_config, idp_metadata, keypair

BASE = "/staff/admin/sign-in"
PUBLIC = "http://127.0.0.1:9999"
SECRET = "s3rvice-Pa55word-xyzzy"


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url, public_url=PUBLIC)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ldap_form(code: str = "dir", port: int = 1, **extra: str) -> dict[str, str]:
    return {"method": "ldap", "code": code, "label": "University account", "enabled": "1",
            "s_servers": json.dumps([{"host": "127.0.0.1", "port": port, "timeout_s": 1}]),
            "s_base_dn": "ou=people,dc=example,dc=org", "s_login_attribute": "uid",
            "s_user_filter": "(objectClass=*)", "s_bind_dn": "cn=reader,dc=example,dc=org",
            "s_bind_password": SECRET, "s_attributes": "cn\nmail\n",
            "s_mapping": json.dumps({"create_users": True, "default_user_group": "UNDERGRAD"}),
            **extra}


def stored(site: Site, method: str, code: str) -> dict[str, Any] | None:
    row = site.container.external.profiles.get("MAIN", method, code)
    return row.config if row else None


def test_add_edit_secrets_enable_and_delete_an_ldap_profile(site: Site) -> None:
    site.sign_in("gsa")
    assert f'href="{BASE}"' in site.client.get("/staff/").text
    assert "No sign-in profile yet" in site.client.get(BASE).text
    form = site.client.get(f"{BASE}/new", params={"method": "ldap"})
    assert form.status_code == 200 and 'name="s_bind_password"' in form.text
    r = site.post(f"{BASE}/new", ldap_form())
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    config = stored(site, "ldap", "dir")
    assert config and config["bind_password"] == SECRET and config["attributes"] == ["cn", "mail"]
    page = site.client.get(f"{BASE}/ldap/dir")
    assert page.status_code == 200
    assert SECRET not in page.text and 'id="bind_password-set"' in page.text
    assert "cn=reader,dc=example,dc=org" in page.text
    # the sign-in page offers it
    assert 'value="ldap:dir"' in site.client.get("/auth/login", params={"institution": "MAIN"}).text
    # edit with the secret left empty: kept; other settings changed
    edit = {k: v for k, v in ldap_form(s_bind_password="", s_login_attribute="mail").items()
            if k not in ("method", "code")}
    r = site.post(f"{BASE}/ldap/dir", edit)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    config = stored(site, "ldap", "dir")
    assert config and config["bind_password"] == SECRET and config["login_attribute"] == "mail"
    # disable: kept, testable, no longer offered
    r = site.post(f"{BASE}/ldap/dir/enabled", {"enabled": "0"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert 'value="ldap:dir"' not in site.client.get(
        "/auth/login", params={"institution": "MAIN"}).text
    assert "disabled" in site.client.get(BASE).text
    # saving the form keeps the state its box says (unticked: stays disabled)
    r = site.post(f"{BASE}/ldap/dir", {k: v for k, v in edit.items() if k != "enabled"})
    assert stored(site, "ldap", "dir")["enabled"] is False  # type: ignore[index]
    site.post(f"{BASE}/ldap/dir/enabled", {"enabled": "1"})
    assert "enabled" not in (stored(site, "ldap", "dir") or {"enabled": 1})
    # delete: needs the code typed
    r = site.post(f"{BASE}/ldap/dir/delete", {"confirm": "DIR"})
    assert r.status_code == 400 and stored(site, "ldap", "dir")  # type: ignore[attr-defined]
    r = site.post(f"{BASE}/ldap/dir/delete", {"confirm": "dir"})
    assert r.status_code == 303 and stored(site, "ldap", "dir") is None  # type: ignore[attr-defined]
    # history: who and what, never the secret
    listing = site.client.get(BASE).text
    for action in ("auth.profile.put", "auth.profile.disable", "auth.profile.enable",
                   "auth.profile.remove"):
        assert action in listing
    history = site.container.external.profiles.history("MAIN", 50)
    assert {h["actor"] for h in history} == {"staff:gsa"}
    assert SECRET not in json.dumps(history, default=str)


def test_the_cli_and_the_page_share_the_service_and_its_audit(site: Site) -> None:
    site.container.signin_admin.save("MAIN", "cas", "campus", {
        "server_url": "https://cas.example.org/cas/",
        "allowed_services": [f"{PUBLIC}/auth/cas/"]}, "cli", None)
    site.sign_in("gsa")
    page = site.client.get(f"{BASE}/cas/campus")
    assert page.status_code == 200
    assert f"{PUBLIC}/auth/cas/campus/callback" in page.text  # the URL to register
    assert site.container.external.profiles.history("MAIN", 5)[0]["actor"] == "cli"


def test_saml_profile_sp_metadata_and_urls(site: Site, tmp_path: Any) -> None:
    cert, key = keypair(tmp_path, "sp")
    metadata = idp_metadata(idp_config(tmp_path, keypair(tmp_path, "idp"), []))
    site.sign_in("gsa")
    r = site.post(f"{BASE}/new", {
        "method": "saml", "code": "idp1", "enabled": "1",
        "s_sp_entity_id": f"{PUBLIC}/auth/saml/idp1/metadata",
        "s_acs_url": f"{PUBLIC}/auth/saml/idp1/acs", "s_sp_key_file": str(key),
        "s_sp_cert_file": str(cert), "s_idp_metadata_xml": metadata,
        "s_name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        "s_clock_skew_s": "60", "s_xmlsec_binary": "/usr/bin/xmlsec1"})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    page = site.client.get(f"{BASE}/saml/idp1").text
    assert f"{PUBLIC}/auth/saml/idp1/acs" in page and 'id="sp-metadata"' in page
    download = site.client.get(f"{BASE}/saml/idp1/metadata")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert "EntityDescriptor" in download.text and f"{PUBLIC}/auth/saml/idp1/acs" in download.text
    assert refused(site.client.get(f"{BASE}/saml/nope/metadata"), 404)
    # the inline metadata parsed by the connection test: the IdP, its SSO URL, its certificate
    report = site.post(f"{BASE}/saml/idp1/test", {})
    text = report.text  # type: ignore[attr-defined]
    assert report.status_code == 200  # type: ignore[attr-defined]
    assert "http://127.0.0.1:8088/idp/sso/redirect" in text and "SHA-256" in text
    assert IDP_ID in text
    assert "a problem was found" not in text


BAD_FORMS: list[tuple[dict[str, str], str]] = [
    (ldap_form(code=""), "profile code"),
    (ldap_form(code="a b"), "profile code"),
    (ldap_form(code="x" * 65), "too long"),
    (ldap_form(code="'; DROP TABLE auth_profiles; --"), "profile code"),
    (ldap_form(s_servers="[not json"), "not valid JSON"),
    (ldap_form(s_servers='[{"host": "h", "port": "389"}]'), "whole number"),
    (ldap_form(s_servers='[{"host": "h", "port": 70000}]'), "Bad LDAP port"),
    (ldap_form(s_servers="[]"), "1 to 5 servers"),
    (ldap_form(s_servers='[{"host": "h", "nope": 1}]'), "unknown setting"),
    (ldap_form(s_base_dn="ou=x\x00,dc=y"), "control characters"),
    (ldap_form(s_user_filter="uid=*"), "parenthesised"),
    (ldap_form(s_mapping='{"create_users": "yes"}'), "true or false"),
    (ldap_form(s_mapping='"just a string"'), "must be an object"),
    (ldap_form(s_bind_password=""), "needs a password"),
    (ldap_form(label="x" * 101), "label"),
    (ldap_form(s_servers=json.dumps([{"host": "h\x00", "port": 389}])), "NUL"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FORMS)
def test_bad_input_is_refused_with_the_reason(site: Site, data: dict[str, str],
                                              message: str) -> None:
    site.sign_in("gsa")
    r = site.post(f"{BASE}/new", data)
    assert r.status_code == 400, r.text  # type: ignore[attr-defined]
    assert message in r.text  # type: ignore[attr-defined]
    assert "Traceback" not in r.text  # type: ignore[attr-defined]
    assert SECRET not in r.text  # type: ignore[attr-defined]  # never echoed back
    assert site.container.external.profiles.list("MAIN", None) == []


def test_bad_input_elsewhere(site: Site) -> None:
    site.sign_in("gsa")
    assert site.post(f"{BASE}/new", ldap_form()).status_code == 303  # type: ignore[attr-defined]
    # a duplicate code on "new", unknown methods, kinds and profiles
    r = site.post(f"{BASE}/new", ldap_form())
    assert r.status_code == 400 and "exists already" in r.text  # type: ignore[attr-defined]
    assert refused(site.client.get(f"{BASE}/new", params={"method": "kerberos"}), 404)
    assert refused(site.post(f"{BASE}/new", {**ldap_form(), "method": "local"}), 404)
    assert refused(site.client.get(f"{BASE}/oidc/dir"), 404)
    assert refused(site.client.get(f"{BASE}/ldap/%00"), 404)
    assert refused(site.post(f"{BASE}/ldap/nope", ldap_form()), 404)
    assert refused(site.post(f"{BASE}/ldap/nope/test", {}), 404)
    assert refused(site.post(f"{BASE}/ldap/nope/delete", {"confirm": "nope"}), 404)
    assert refused(site.post(f"{BASE}/ldap/dir/enabled", {"enabled": "maybe"}), 400)
    # a huge form is refused unread; a huge value with its sentence
    big = site.post(f"{BASE}/ldap/dir", {"s_base_dn": "x" * 700_000})
    assert refused(big, 400)
    long_value = site.post(f"{BASE}/ldap/dir", ldap_form(s_base_dn="x" * 450_000))
    assert refused(long_value, 400) and "too long" in long_value.text  # type: ignore[attr-defined]
    # a wrong CAS version and a non-number timeout
    r = site.post(f"{BASE}/new", {"method": "cas", "code": "c", "s_server_url": "https://c/",
                                  "s_allowed_services": "https://l/", "s_version": "4"})
    assert r.status_code == 400 and "version must be one of" in r.text  # type: ignore[attr-defined]
    r = site.post(f"{BASE}/new", {"method": "oidc", "code": "o", "s_issuer": "https://op",
                                  "s_client_id": "b", "s_redirect_uri": "https://l/cb",
                                  "s_scopes": "openid", "s_timeout_s": "soon"})
    assert r.status_code == 400 and "timeout_s must be a number" in r.text  # type: ignore[attr-defined]
    r = site.post(f"{BASE}/new", {"method": "oidc", "code": "o", "s_issuer": "javascript:x",
                                  "s_client_id": "b", "s_redirect_uri": "https://l/cb",
                                  "s_scopes": "openid"})
    assert r.status_code == 400 and "issuer must be an http(s) URL" in r.text  # type: ignore[attr-defined]
    assert 'value="javascript:x"' in r.text  # what was typed stays in the form, escaped


def test_an_oidc_secret_is_write_only_and_can_be_removed(site: Site) -> None:
    site.sign_in("gsa")
    data = {"method": "oidc", "code": "op", "enabled": "1", "s_issuer": "https://op.example",
            "s_client_id": "bookplate", "s_client_secret": SECRET,
            "s_redirect_uri": f"{PUBLIC}/auth/oidc/op/callback", "s_scopes": "openid\nemail",
            "s_user_id_claim": "sub", "s_use_userinfo": "1", "s_leeway_s": "60",
            "s_timeout_s": "2.5"}
    assert site.post(f"{BASE}/new", data).status_code == 303  # type: ignore[attr-defined]
    page = site.client.get(f"{BASE}/oidc/op").text
    assert SECRET not in page and 'name="clear_client_secret"' in page
    assert stored(site, "oidc", "op")["timeout_s"] == 2.5  # type: ignore[index]
    edit = {k: v for k, v in data.items() if k not in ("method", "code")}
    site.post(f"{BASE}/oidc/op", {**edit, "s_client_secret": ""})
    assert stored(site, "oidc", "op")["client_secret"] == SECRET  # type: ignore[index]
    site.post(f"{BASE}/oidc/op", {**edit, "s_client_secret": "", "clear_client_secret": "1"})
    assert stored(site, "oidc", "op")["client_secret"] is None  # type: ignore[index]
    # a refused edit does not echo the secret typed either
    r = site.post(f"{BASE}/oidc/op", {**edit, "s_client_secret": "new-" + SECRET,
                                      "s_scopes": "email"})
    assert r.status_code == 400 and SECRET not in r.text  # type: ignore[attr-defined]


def test_test_connection_against_dead_ports_is_a_clear_error(site: Site) -> None:
    port = dead_port()
    site.sign_in("gsa")
    site.post(f"{BASE}/new", ldap_form(port=port))
    site.post(f"{BASE}/new", {"method": "cas", "code": "cas", "enabled": "1",
                              "s_server_url": f"http://127.0.0.1:{port}/cas/",
                              "s_allowed_services": f"{PUBLIC}/auth/cas/", "s_version": "3",
                              "s_timeout_s": "1"})
    site.post(f"{BASE}/new", {"method": "oidc", "code": "op", "enabled": "1",
                              "s_issuer": f"http://127.0.0.1:{port}", "s_client_id": "b",
                              "s_redirect_uri": f"{PUBLIC}/auth/oidc/op/callback",
                              "s_scopes": "openid", "s_timeout_s": "1"})
    site.post(f"{BASE}/new", {"method": "saml", "code": "idp", "enabled": "1",
                              "s_sp_entity_id": "urn:sp", "s_acs_url": f"{PUBLIC}/acs",
                              "s_sp_key_file": "/nonexistent", "s_sp_cert_file": "/nonexistent",
                              "s_idp_metadata_url": f"http://127.0.0.1:{port}/md"})
    assert len(site.container.external.profiles.list("MAIN", None)) == 4
    for method, code in (("ldap", "dir"), ("cas", "cas"), ("oidc", "op"), ("saml", "idp")):
        r = site.post(f"{BASE}/{method}/{code}/test", {})
        text = r.text  # type: ignore[attr-defined]
        assert r.status_code == 200, text  # type: ignore[attr-defined]
        assert "a problem was found" in text and "cannot connect" in text, (method, text)
        assert "Nobody was signed in" in text


def test_bad_xml_metadata_is_reported_not_parsed(site: Site) -> None:
    site.sign_in("gsa")
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">&b;'
            '</EntityDescriptor>')
    for code, xml, said in (("bomb", bomb, "DTDs and entities are not accepted"),
                            ("broken", "<EntityDescriptor", "not well-formed XML")):
        site.post(f"{BASE}/new", {"method": "saml", "code": code, "s_sp_entity_id": "urn:sp",
                                  "s_acs_url": f"{PUBLIC}/acs", "s_sp_key_file": "/k",
                                  "s_sp_cert_file": "/c", "s_idp_metadata_xml": xml})
        r = site.post(f"{BASE}/saml/{code}/test", {})
        assert r.status_code == 200 and said in r.text, r.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("who", ["useradmin", "manager", "patron"])
def test_only_a_system_administrator_may_use_the_page(site: Site, who: str) -> None:
    site.container.signin_admin.save("MAIN", "ldap", "dir", {
        "servers": [{"host": "127.0.0.1"}], "base_dn": "dc=x"}, "cli", None)
    site.sign_in(who)
    assert f'href="{BASE}"' not in site.client.get("/staff/").text
    urls = [BASE, f"{BASE}/new?method=ldap", f"{BASE}/ldap/dir"]
    for url in urls:
        r = site.client.get(url)
        assert r.status_code == 403, (url, r.status_code)
    if who != "patron":
        for url, data in ((f"{BASE}/new", ldap_form(code="x")),
                          (f"{BASE}/ldap/dir", ldap_form()),
                          (f"{BASE}/ldap/dir/enabled", {"enabled": "0"}),
                          (f"{BASE}/ldap/dir/delete", {"confirm": "dir"}),
                          (f"{BASE}/ldap/dir/test", {})):
            assert refused(site.post(url, data)), url
    assert [r.code for r in site.container.external.profiles.list("MAIN", None)] == ["dir"]
    assert stored(site, "ldap", "dir") and "enabled" not in stored(site, "ldap", "dir")  # type: ignore[operator]


def test_a_form_without_its_csrf_token_changes_nothing(site: Site) -> None:
    site.sign_in("gsa")
    r = site.client.post(f"{BASE}/new", data=ldap_form(), follow_redirects=False)
    assert refused(r)
    r = site.client.post(f"{BASE}/new", data={**ldap_form(), "csrf_token": "forged"},
                         follow_redirects=False)
    assert refused(r)
    assert site.container.external.profiles.list("MAIN", None) == []


def test_the_enabled_flag_is_checked_by_the_service(site: Site) -> None:
    from bookplate.auth.errors import ProfileInvalid

    with pytest.raises(ProfileInvalid, match="enabled"):
        site.container.external.add(Method.LDAP, "MAIN", "x", {
            "servers": [{"host": "h"}], "base_dn": "dc=x", "enabled": "no"})
    assert re.search("x", "x")
