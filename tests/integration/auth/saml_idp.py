"""An in-process pysaml2 identity provider for the SAML SP tests (no network; xmlsec1 signs)."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.server import Server

from bookplate.auth.backends.saml import SamlProfile, sp_metadata
from tests.integration.auth.peers import self_signed

IDP_ID = "http://127.0.0.1:8088/idp/metadata"
IDP_SLO = "http://127.0.0.1:8088/idp/slo"
SHA256 = {
    "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
}
IDENTITY = {"uid": ["jdoe"], "mail": ["jdoe@example.org"], "givenName": ["Jane"], "sn": ["Doe"],
            "eduPersonAffiliation": ["student", "member"]}


def keypair(directory: Path, name: str) -> tuple[str, str]:
    d = directory / name
    d.mkdir(exist_ok=True)
    cert, key = self_signed(d)
    return str(cert), str(key)


def idp_config(directory: Path, key: tuple[str, str], sp_metadata_xml: list[str],
               lifetime_minutes: int = 15, algorithms: dict[str, str] | None = None) -> Any:
    cert_file, key_file = key
    return IdPConfig().load({
        "entityid": IDP_ID,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "key_file": key_file,
        "cert_file": cert_file,
        "attribute_map_dir": None,
        "allow_unknown_attributes": True,
        "metadata": {"inline": sp_metadata_xml},
        "service": {"idp": {
            "endpoints": {
                "single_sign_on_service": [
                    ("http://127.0.0.1:8088/idp/sso/redirect", BINDING_HTTP_REDIRECT)],
                "single_logout_service": [(IDP_SLO, BINDING_HTTP_REDIRECT)],
            },
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            **(SHA256 if algorithms is None else algorithms),
            "policy": {"default": {"lifetime": {"minutes": lifetime_minutes},
                                   "attribute_restrictions": None,
                                   "name_form":
                                       "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
        }},
    })


def idp_metadata(config: Any) -> str:
    md = create_metadata_string(None, config=config, valid=24)
    return md.decode() if isinstance(md, bytes) else str(md)


class InProcessIdP:
    def __init__(self, directory: Path, sps: list[SamlProfile], key: tuple[str, str],
                 **kwargs: Any) -> None:
        self.server = Server(config=idp_config(directory, key, [sp_metadata(p) for p in sps],
                                               **kwargs))

    def respond(self, login_url: str, *, identity: dict[str, list[str]] | None = None,
                userid: str = "jdoe", sign_assertion: bool = True, sign_response: bool = True,
                tweak: Callable[[Any], None] | None = None, **override: Any) -> str:
        """The IdP's answer to the AuthnRequest in ``login_url``. ``tweak`` changes the
        assertion (a ``saml2.saml.Assertion``) after it is built and before it is signed, so a
        test can make one property wrong in an otherwise valid, properly signed assertion."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(login_url).query)
        parsed = self.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        args = self.server.response_args(parsed.message, [BINDING_HTTP_POST])
        args.update(override)
        build = self.server.setup_assertion
        if tweak is not None:
            def tweaked(*a: Any, **kw: Any) -> Any:
                assertion = build(*a, **kw)
                tweak(assertion)
                return assertion
            self.server.setup_assertion = tweaked
        try:
            resp = self.server.create_authn_response(
                identity or IDENTITY, userid=userid, sign_assertion=sign_assertion,
                sign_response=sign_response,
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
                       "authn_auth": IDP_ID},
                **args,
            )
        finally:
            if tweak is not None:
                del self.server.setup_assertion  # back to the class's method
        return str(resp)


def b64(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()
