"""The SAML profile (a service provider's settings for one IdP) and the pysaml2 client built
from it, cached per profile version so that the IdP metadata is parsed once, not per login."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.sigver import CryptoBackendXmlSec1

from bookplate.auth.errors import ProfileInvalid
from bookplate.auth.model import UserMapping

log = structlog.get_logger("bookplate.auth.saml")

NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

@dataclass(frozen=True, slots=True)
class SamlProfile:
    institution: str
    code: str
    #: Our entity ID and Assertion Consumer Service URL (as the IdP knows them).
    sp_entity_id: str
    acs_url: str
    #: Our key pair (PEM files): published in the SP metadata, used to sign requests.
    sp_key_file: str
    sp_cert_file: str
    #: The IdP's metadata: exactly one of a URL, a file or inline XML.
    idp_metadata_url: str | None = None
    idp_metadata_file: str | None = None
    idp_metadata_xml: str | None = None
    #: Which IdP of the metadata (None: the only one in it).
    idp_entity_id: str | None = None
    #: None = the user ID is the NameID; else the name of the attribute holding it.
    user_id_attribute: str | None = None
    name_id_format: str = NAMEID_UNSPECIFIED
    clock_skew_s: int = 60
    sign_requests: bool = False
    xmlsec_binary: str = "/usr/bin/xmlsec1"
    mapping: UserMapping = field(default_factory=UserMapping)
    #: Our Single Logout endpoint (``…/auth/saml/{code}/slo``, HTTP-Redirect binding); None:
    #: no single logout (sign-out ends the Bookplate session only).
    slo_url: str | None = None

    def __post_init__(self) -> None:
        sources = [self.idp_metadata_url, self.idp_metadata_file, self.idp_metadata_xml]
        if sum(s is not None for s in sources) != 1:
            raise ProfileInvalid("Give the IdP metadata as exactly one of URL, file or XML.")
        for name, url in (("acs_url", self.acs_url), ("slo_url", self.slo_url)):
            if url is not None and urlsplit(url).scheme not in ("http", "https"):
                raise ProfileInvalid(f"{name} must be an http(s) URL.")
        if self.idp_metadata_url is not None:
            # only http(s): a local file goes through idp_metadata_file
            parts = urlsplit(self.idp_metadata_url)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise ProfileInvalid("idp_metadata_url must be an http(s) URL.")
        if not 0 <= self.clock_skew_s <= 600:
            raise ProfileInvalid("clock_skew_s is between 0 and 600.")

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str)
                              .encode()).hexdigest()


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


@functools.cache
def _xmlsec_version(binary: str) -> str:
    # S603 below: the binary is the profile's xmlsec_binary, set by an administrator
    out = subprocess.run([binary, "--version"], capture_output=True, check=False,  # noqa: S603
                         timeout=10)
    parts = out.stdout.decode("ascii", "replace").split(" ")
    return parts[1] if len(parts) > 1 else "0.0.0"


class _XmlSec1(CryptoBackendXmlSec1):  # type: ignore[misc]  # pysaml2 is untyped (Any base)
    """pysaml2's xmlsec1 backend, but ``xmlsec1 --version`` is asked once per binary, not twice
    per signature check (two process starts saved per signature)."""

    @property
    def version(self) -> str:
        return _xmlsec_version(str(self.xmlsec))


def sp_config(profile: SamlProfile) -> Any:
    metadata: dict[str, Any] = {}
    if profile.idp_metadata_url:
        metadata["remote"] = [{"url": profile.idp_metadata_url}]
    elif profile.idp_metadata_file:
        metadata["local"] = [profile.idp_metadata_file]
    else:
        metadata["inline"] = [profile.idp_metadata_xml]
    conf = {
        "entityid": profile.sp_entity_id,
        "xmlsec_binary": profile.xmlsec_binary,
        "key_file": profile.sp_key_file,
        "cert_file": profile.sp_cert_file,
        "attribute_map_dir": None,
        "allow_unknown_attributes": True,
        "accepted_time_diff": profile.clock_skew_s,
        "valid_for": 24 * 7,  # hours: the SP metadata's validUntil
        "metadata": metadata,
        "service": {"sp": {
            "endpoints": {
                "assertion_consumer_service": [(profile.acs_url, BINDING_HTTP_POST)],
                **({"single_logout_service": [(profile.slo_url, BINDING_HTTP_REDIRECT)]}
                   if profile.slo_url else {}),
            },
            "want_response_signed": False,
            "want_assertions_signed": True,
            "want_assertions_or_response_signed": True,
            "authn_requests_signed": profile.sign_requests,
            "allow_unsolicited": False,
            "name_id_format": profile.name_id_format,
            "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
        }},
    }
    return SPConfig().load(conf)


def client_for(profile: SamlProfile) -> Any:
    """One pysaml2 client per profile version (metadata parsed once, not per login)."""
    key = f"{profile.institution}/{profile.code}/{profile.fingerprint()}"
    with _clients_lock:
        client = _clients.get(key)
    if client is None:
        try:
            client = Saml2Client(config=sp_config(profile))
            if type(client.sec.crypto) is CryptoBackendXmlSec1:
                client.sec.crypto.__class__ = _XmlSec1
        except Exception as exc:
            log.error("saml.profile_unusable", profile=profile.code, error=repr(exc)[:500])
            raise ProfileInvalid("The SAML profile cannot be loaded (metadata, keys).") from exc
        with _clients_lock:
            _clients[key] = client
    return client


def idp_entity(profile: SamlProfile, client: Any) -> str:
    if profile.idp_entity_id:
        return profile.idp_entity_id
    idps = list(client.metadata.identity_providers())
    if len(idps) != 1:
        raise ProfileInvalid("The IdP metadata holds several IdPs: set idp_entity_id.")
    return str(idps[0])
