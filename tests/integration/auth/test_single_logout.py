"""Single logout (issue 14 item 13) through HTTP against the real peers:

* SAML: the in-process pysaml2 IdP (the suite's SAML peer) reads our signed LogoutRequest
  (SP-initiated, from ``POST /auth/logout``) and answers; it also sends its own signed
  LogoutRequest (IdP-initiated), which ends the session it names, in whatever browser;
  unsigned or foreign-signed requests are refused.
* OIDC: the npm oidc-provider's ``end_session_endpoint`` accepts our ``id_token_hint`` and
  ``post_logout_redirect_uri`` and sends the browser back.
* CAS: sign-out sends the browser to django-mama-cas's ``/logout``; a back-channel
  ``logoutRequest`` naming the session's ticket ends it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NameID
from saml2.sigver import verify_redirect_signature

from bookplate.auth.backends.saml import SamlProfile
from bookplate.auth.model import Method
from tests.integration.auth.conftest import CasServer, OidcServer, cas_login, oidc_browser_login
from tests.integration.auth.peers import need
from tests.integration.auth.saml_idp import (
    IDP_SLO,
    InProcessIdP,
    b64,
    idp_config,
    idp_metadata,
    keypair,
)
from tests.integration.auth.test_web_external import (  # noqa: F401  (fixtures)
    MAPPING,
    PUBLIC,
    App,
    _cas_config,
    _signed_in,
    app,
    database_url,
)

SAML_NS = "{urn:oasis:names:tc:SAML:2.0:assertion}"
SLO = f"{PUBLIC}/auth/saml/main/slo"


def _me_signed_in(app: App, client: Any | None = None) -> bool:  # noqa: F811
    return bool((client or app.client).get("/auth/me").status_code == 200)


def _sign_out(app: App) -> Any:  # noqa: F811
    page = app.client.get("/auth/me")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    return app.client.post("/auth/logout", data={"csrf_token": csrf.group(1)})


# --- SAML ---------------------------------------------------------------------------------------


class SamlWorld:
    def __init__(self, app: App, tmp_path: Path, slo: bool = True) -> None:  # noqa: F811
        need("/usr/bin/xmlsec1")
        sp_cert, sp_key = keypair(tmp_path, "sp")
        idp_key = keypair(tmp_path, "idp")
        self.evil_key = keypair(tmp_path, "evil")
        config = {
            "sp_entity_id": f"{PUBLIC}/auth/saml/main/metadata",
            "acs_url": f"{PUBLIC}/auth/saml/main/acs", "sp_key_file": sp_key,
            "sp_cert_file": sp_cert, "user_id_attribute": "uid",
            "idp_metadata_xml": idp_metadata(idp_config(tmp_path, idp_key, [])),
            "mapping": {**MAPPING, "fields": {"first_name": "givenName", "email": "mail"}},
            **({"slo_url": SLO} if slo else {}),
        }
        profile, _ = app.container.external.add(Method.SAML, "MAIN", "main", config)
        assert isinstance(profile, SamlProfile)
        self.profile = profile
        self.sp_cert = "".join(line for line in Path(sp_cert).read_text().splitlines()
                               if "CERTIFICATE" not in line)  # as in metadata: no PEM armour
        self.idp = InProcessIdP(tmp_path, [profile], idp_key)
        (tmp_path / "evil-idp").mkdir()
        self.evil = InProcessIdP(tmp_path / "evil-idp", [profile], self.evil_key)  # same ID

    def sign_in(self, app: App, client: Any | None = None) -> dict[str, str]:  # noqa: F811
        """Sign in through the ACS; what the IdP said: NameID (and format) and SessionIndex."""
        browser = client or app.client
        start = browser.get("/auth/saml/main/login", params={"institution": "MAIN",
                                                             "next": "/auth/me"})
        xml = self.idp.respond(start.headers["location"])
        done = browser.post("/auth/saml/main/acs", data={"SAMLResponse": b64(xml)})
        assert done.status_code == 303 and done.headers["location"] == "/me"
        root = etree.fromstring(xml.encode())
        name_id = root.find(f".//{SAML_NS}Subject/{SAML_NS}NameID")
        statement = root.find(f".//{SAML_NS}AuthnStatement")
        assert name_id is not None and statement is not None
        return {"name_id": name_id.text or "", "format": name_id.get("Format") or "",
                "sp_name_qualifier": name_id.get("SPNameQualifier") or "",
                "session_index": statement.get("SessionIndex") or ""}

    def idp_logout_request(self, said: dict[str, str], *, idp: InProcessIdP | None = None,
                           sign: bool = True, session_index: str | None = None) -> str:
        """The IdP's front-channel LogoutRequest to our SLO endpoint, as a URL."""
        server = (idp or self.idp).server
        name_id = NameID(text=said["name_id"], format=said["format"] or None,
                         sp_name_qualifier=said["sp_name_qualifier"] or None)
        _, request = server.create_logout_request(
            SLO, self.profile.sp_entity_id, name_id=name_id,
            session_indexes=[session_index or said["session_index"]], sign=False)
        info = server.apply_binding(BINDING_HTTP_REDIRECT, str(request), SLO, relay_state="",
                                    sign=sign,
                                    sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        return str(dict(info["headers"])["Location"])


@pytest.fixture
def saml_world(app: App, tmp_path: Path) -> SamlWorld:  # noqa: F811
    return SamlWorld(app, tmp_path)


def _local(url: str) -> str:
    assert url.startswith(PUBLIC), url
    return url[len(PUBLIC):]


def test_saml_metadata_advertises_our_slo(app: App, saml_world: SamlWorld) -> None:  # noqa: F811
    md = app.client.get("/auth/saml/main/metadata").text
    assert "SingleLogoutService" in md and SLO in md


def test_saml_sp_initiated_logout(app: App, saml_world: SamlWorld) -> None:  # noqa: F811
    said = saml_world.sign_in(app)
    assert _me_signed_in(app)
    out = _sign_out(app)
    assert out.status_code == 303
    location = out.headers["location"]
    assert location.startswith(IDP_SLO + "?")
    assert not _me_signed_in(app)  # ended here before the browser even reaches the IdP
    # the IdP reads it: signed with our key, for the NameID and SessionIndex it issued
    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert q["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert verify_redirect_signature(q, saml_world.idp.server.sec.sec_backend,
                                     saml_world.sp_cert)
    server = saml_world.idp.server
    request = server.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT).message
    assert request.name_id.text == said["name_id"]
    assert [i.text for i in request.session_index] == [said["session_index"]]
    assert request.issuer.text == saml_world.profile.sp_entity_id
    # ... and answers at our SLO endpoint
    response = server.create_logout_response(request, [BINDING_HTTP_REDIRECT], sign=False)
    info = server.apply_binding(BINDING_HTTP_REDIRECT, str(response), SLO, relay_state="",
                                response=True, sign=True,
                                sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    back = app.client.get(_local(str(dict(info["headers"])["Location"])))
    assert back.status_code == 303 and back.headers["location"] == "/auth/login"


def test_saml_idp_initiated_logout_ends_the_named_session(
        app: App, saml_world: SamlWorld) -> None:  # noqa: F811
    said = saml_world.sign_in(app)
    assert _me_signed_in(app)
    # the IdP's request comes through a browser without our cookie (another tab, a
    # front-channel iframe): the session is found by NameID and SessionIndex
    with TestClient(app.client.app, follow_redirects=False) as other:
        answer = other.get(_local(saml_world.idp_logout_request(said)))
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["location"].startswith(IDP_SLO + "?")
    assert not _me_signed_in(app)
    # our answer is a signed LogoutResponse (Success) the IdP accepts
    q = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert verify_redirect_signature(q, saml_world.idp.server.sec.sec_backend,
                                     saml_world.sp_cert)
    parsed = saml_world.idp.server.parse_logout_request_response(q["SAMLResponse"],
                                                                 BINDING_HTTP_REDIRECT)
    assert parsed.response.status.status_code.value.endswith(":Success")


def test_saml_logout_requests_refused(app: App, saml_world: SamlWorld) -> None:  # noqa: F811
    said = saml_world.sign_in(app)
    unsigned = saml_world.idp_logout_request(said, sign=False)
    assert "Signature=" not in unsigned
    forged = saml_world.idp_logout_request(said, idp=saml_world.evil)  # same IdP ID, other key
    tampered = saml_world.idp_logout_request(said).replace("SigAlg=", "RelayState=x&SigAlg=")
    for url in (unsigned, forged, tampered):
        refused = app.client.get(_local(url))
        assert refused.status_code == 401 and "Authentication failed" in refused.text
        assert _me_signed_in(app), url
    assert app.client.get("/auth/saml/main/slo").status_code == 400
    assert _me_signed_in(app)  # none of them ended the session
    # another SessionIndex of the same person: not this session
    app.client.get(_local(saml_world.idp_logout_request(said, session_index="id-other")))
    assert _me_signed_in(app)


def test_saml_without_slo_signs_out_locally(app: App, tmp_path: Path) -> None:  # noqa: F811
    world = SamlWorld(app, tmp_path, slo=False)
    world.sign_in(app)
    out = _sign_out(app)
    assert out.status_code == 303 and out.headers["location"] == "/auth/login"
    assert not _me_signed_in(app)


# --- OpenID Connect -----------------------------------------------------------------------------


def test_oidc_rp_initiated_logout(app: App, oidc_server: OidcServer) -> None:  # noqa: F811
    from bookplate.auth.backends import oidc

    oidc.forget_provider(oidc_server.issuer)
    back = f"{PUBLIC}/auth/login"
    app.container.external.add(Method.OIDC, "MAIN", "op", {
        "issuer": oidc_server.issuer, "client_id": "svc-test",
        "client_secret": "svc-test-secret", "redirect_uri": oidc_server.redirect_uri,
        "single_logout": True, "post_logout_redirect_uri": back,
        "mapping": {**MAPPING, "fields": {"first_name": "given_name", "email": "email"}},
    })
    start = app.client.get("/auth/oidc/op/login", params={"institution": "MAIN"})
    callback = oidc_browser_login(oidc_server, start.headers["location"], "alice", "alice-pw")
    assert callback
    _signed_in(app, app.client.get(f"/auth/oidc/op/callback?{urlsplit(callback).query}"))
    out = _sign_out(app)
    assert out.status_code == 303
    location = out.headers["location"]
    meta = oidc._provider(oidc.OidcProfile("MAIN", "op", oidc_server.issuer, "svc-test",
                                           oidc_server.redirect_uri)).meta
    assert location.startswith(meta["end_session_endpoint"] + "?")
    q = parse_qs(urlsplit(location).query)
    assert q["client_id"] == ["svc-test"] and q["post_logout_redirect_uri"] == [back]
    assert q["id_token_hint"][0].count(".") == 2
    assert not _me_signed_in(app)
    # the provider accepts the hint and the registered redirect: its confirmation form, then
    # back to us with our state
    with httpx2.Client(timeout=10, follow_redirects=False) as browser:
        page = browser.get(location)
        assert page.status_code == 200, page.text[:300]
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
        assert form and xsrf, page.text[:500]
        done = browser.post(urljoin(str(page.url), form.group(1)),
                            data={"xsrf": xsrf.group(1), "logout": "yes"})
        while done.status_code in (302, 303) and not done.headers["location"].startswith(back):
            done = browser.get(urljoin(str(done.url), done.headers["location"]))
    assert done.status_code in (302, 303)
    assert done.headers["location"].startswith(back)
    assert parse_qs(urlsplit(done.headers["location"]).query)["state"] == q["state"]


# --- CAS ----------------------------------------------------------------------------------------


def _cas_sign_in(app: App, server: CasServer, client: Any | None = None) -> str:  # noqa: F811
    browser = client or app.client
    start = browser.get("/auth/cas/main/login", params={"institution": "MAIN"})
    service = parse_qs(urlsplit(start.headers["location"]).query)["service"][0]
    ticket = cas_login(server, service)
    done = browser.get(f"{service[len(PUBLIC):]}&{urlencode({'ticket': ticket})}")
    assert done.status_code == 303, done.text[:300]
    return ticket


def _logout_request(ticket: str) -> str:
    """CAS 3.0 appendix C: what a CAS server POSTs to the service at single logout."""
    return ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-1" Version="2.0" '
            'IssueInstant="2026-12-07T10:00:00Z"><saml:NameID>@NOT_USED@</saml:NameID>'
            f"<samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>")


def test_cas_logout_redirects_to_the_server(app: App, cas_server: CasServer) -> None:  # noqa: F811
    app.container.external.add(Method.CAS, "MAIN", "main",
                               {**_cas_config(cas_server), "single_logout": True})
    _cas_sign_in(app, cas_server)
    out = _sign_out(app)
    assert out.status_code == 303
    location = out.headers["location"]
    assert location == f"{cas_server.base}logout?{urlencode({'service': PUBLIC + '/auth/login'})}"
    assert not _me_signed_in(app)
    # django-mama-cas takes it (it logs the browser out and shows or follows the service)
    answer = httpx2.get(location, timeout=10, follow_redirects=False)
    assert answer.status_code in (200, 302), answer.text[:300]


def test_cas_back_channel_logout(app: App, cas_server: CasServer) -> None:  # noqa: F811
    app.container.external.add(Method.CAS, "MAIN", "main",
                               {**_cas_config(cas_server), "single_logout": True})
    ticket = _cas_sign_in(app, cas_server)
    other_app_browser = TestClient(app.client.app, follow_redirects=False)
    other_ticket = _cas_sign_in(app, cas_server, other_app_browser)
    assert _me_signed_in(app) and _me_signed_in(app, other_app_browser)
    # garbage and unknown tickets end nothing
    for body in ("", "<x/>", "not xml", _logout_request("ST-0-unknown"),
                 '<!DOCTYPE x [<!ENTITY e "ST-1">]>' + _logout_request("&e;")):
        answer = app.client.post("/auth/cas/main/callback", data={"logoutRequest": body})
        assert answer.status_code in (200, 400)
    assert _me_signed_in(app) and _me_signed_in(app, other_app_browser)
    # the server, without any browser cookie, names the first session's ticket
    with TestClient(app.client.app) as cas_server_side:
        answer = cas_server_side.post("/auth/cas/main/callback",
                                      data={"logoutRequest": _logout_request(ticket)})
    assert answer.status_code == 200
    assert not _me_signed_in(app)
    assert _me_signed_in(app, other_app_browser)  # the other session stays
    assert other_ticket != ticket
    other_app_browser.close()


def test_cas_without_single_logout(app: App, cas_server: CasServer) -> None:  # noqa: F811
    app.container.external.add(Method.CAS, "MAIN", "main", _cas_config(cas_server))
    ticket = _cas_sign_in(app, cas_server)
    refused = app.client.post("/auth/cas/main/callback",
                              data={"logoutRequest": _logout_request(ticket)})
    assert refused.status_code == 400
    assert _me_signed_in(app)
    out = _sign_out(app)
    assert out.headers["location"] == "/auth/login"
