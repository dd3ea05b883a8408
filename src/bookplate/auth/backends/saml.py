"""SAML 2.0 Web Browser SSO, service-provider side (pysaml2; signatures by Debian's xmlsec1).

``start(profile, relay_state)`` gives the IdP redirect URL and the request ID to remember in
the browser's session; ``finish(profile, saml_response_b64, outstanding_request_ids, replay)``
checks the IdP's answer and returns an :class:`Identity`. ``sp_metadata(profile)`` is the XML
the web layer serves at ``/auth/saml/{code}/metadata``.

What ``finish`` insists on, before and on top of pysaml2's own checks:

* size caps, strict base64, and no DOCTYPE/entities at all (defusedxml);
* exactly one ``Assertion`` element anywhere in the document, so signature-wrapping tricks
  (a second, unsigned assertion next to, or a signed one hidden inside, another element) fail;
* the assertion signed by a key in the IdP's metadata, with RSA/ECDSA-SHA-256 or better
  (SHA-1 is refused);
* an AudienceRestriction, every one of them naming our entity ID; destination = our ACS URL;
  bearer subject confirmations only (no sender-vouches or holder-of-key), each with Recipient
  = our ACS URL and InResponseTo = one of the browser's outstanding requests (no unsolicited
  responses); NotBefore/NotOnOrAfter with a small clock skew;
* the assertion ID not seen before (the replay cache, kept in the database until the
  assertion expires).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import hashlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor, metadata_tostring_fix
from saml2.saml import SCM_BEARER, NameID
from saml2.sigver import CryptoBackendXmlSec1, verify_redirect_signature
from saml2.time_util import in_a_while, str_to_time
from saml2.validate import valid_instance

from bookplate.auth.errors import ProfileInvalid, ProtocolRefused
from bookplate.auth.model import Identity, Method, UserMapping

log = structlog.get_logger("bookplate.auth.saml")

SAML_ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
SAML_ENCRYPTED_ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedAssertion"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
ALGSUPPORT_NS = "urn:oasis:names:tc:SAML:metadata:algsupport"
#: Signature and digest algorithms accepted (SHA-1 is not).
GOOD_SIGNATURES = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
})
GOOD_DIGESTS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})
MAX_RESPONSE_B64 = 512 * 1024
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


class ReplayCache(Protocol):
    """Assertion IDs already used. ``remember`` returns False if the key is already there."""

    def remember(self, key: str, expires_at: datetime) -> bool: ...


class MemoryReplayCache:
    """For one process (tests, a single worker); production uses the database table."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, expires_at: datetime) -> bool:
        now = datetime.now(UTC)
        with self._lock:
            for k in [k for k, t in self._seen.items() if t < now]:
                del self._seen[k]
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            return True


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


# [misc] below: pysaml2 is untyped, so its base class is Any
class _XmlSec1(CryptoBackendXmlSec1):  # type: ignore[misc]
    """pysaml2's xmlsec1 backend, but ``xmlsec1 --version`` is asked once per binary, not twice
    per signature check (two process starts saved per signature)."""

    @property
    def version(self) -> str:
        return _xmlsec_version(str(self.xmlsec))


def _config(profile: SamlProfile) -> Any:
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


def _client(profile: SamlProfile) -> Any:
    """One pysaml2 client per profile version (metadata parsed once, not per login)."""
    key = f"{profile.institution}/{profile.code}/{profile.fingerprint()}"
    with _clients_lock:
        client = _clients.get(key)
    if client is None:
        try:
            client = Saml2Client(config=_config(profile))
            if type(client.sec.crypto) is CryptoBackendXmlSec1:
                client.sec.crypto.__class__ = _XmlSec1
        except Exception as exc:
            log.error("saml.profile_unusable", profile=profile.code, error=repr(exc)[:500])
            raise ProfileInvalid("The SAML profile cannot be loaded (metadata, keys).") from exc
        with _clients_lock:
            _clients[key] = client
    return client


def _idp(profile: SamlProfile, client: Any) -> str:
    if profile.idp_entity_id:
        return profile.idp_entity_id
    idps = list(client.metadata.identity_providers())
    if len(idps) != 1:
        raise ProfileInvalid("The IdP metadata holds several IdPs: set idp_entity_id.")
    return str(idps[0])


def sp_metadata(profile: SamlProfile) -> str:
    """Our SP metadata (entity ID, ACS, signing certificate), valid for 7 days."""
    try:
        config = _config(profile)  # loads the IdP metadata too (a URL is fetched)
    except Exception as exc:
        log.error("saml.profile_unusable", profile=profile.code, error=repr(exc)[:500])
        raise ProfileInvalid("The SAML profile cannot be loaded (metadata, keys).") from exc
    descriptor = entity_descriptor(config)
    _strong_algorithms_only(descriptor)
    valid_instance(descriptor)
    data = metadata_tostring_fix(descriptor, {"xs": "http://www.w3.org/2001/XMLSchema"}, None)
    return data.decode() if isinstance(data, bytes) else str(data)


def _strong_algorithms_only(descriptor: Any) -> None:
    """pysaml2 advertises every digest and signature algorithm xmlsec1 knows (md5, sha1,
    rsa-md5, dsa-sha1...); keep the ones ``finish`` accepts, so an IdP that reads our metadata
    to choose never picks one we refuse."""
    extensions = descriptor.extensions
    if extensions is None:
        return
    kept = []
    for element in extensions.extension_elements:
        allowed = {"DigestMethod": GOOD_DIGESTS, "SigningMethod": GOOD_SIGNATURES}.get(
            element.tag)
        if element.namespace == ALGSUPPORT_NS and allowed is not None \
                and element.attributes.get("Algorithm") not in allowed:
            continue
        kept.append(element)
    extensions.extension_elements = kept
    if not kept and not extensions.extension_attributes:
        descriptor.extensions = None


def safe_relay_state(relay_state: str | None) -> str:
    """A local path only (no scheme, no host, no ``//``, no backslashes), else ``/``."""
    if not relay_state or len(relay_state) > 1024:
        return "/"
    if (not relay_state.startswith("/") or relay_state.startswith("//")
            or "\\" in relay_state or any(ord(c) < 32 for c in relay_state)):
        return "/"
    parts = urlsplit(relay_state)
    return "/" if parts.scheme or parts.netloc else relay_state


def start(profile: SamlProfile, relay_state: str | None = None) -> tuple[str, str]:
    """(URL to redirect the browser to, AuthnRequest ID to keep in the session)."""
    client = _client(profile)
    request_id, info = client.prepare_for_authenticate(
        entityid=_idp(profile, client),
        relay_state=safe_relay_state(relay_state),
        binding=BINDING_HTTP_REDIRECT,
        sign=profile.sign_requests,
    )
    location = dict(info["headers"])["Location"]
    return str(location), str(request_id)


def _precheck(saml_response_b64: str) -> Any:
    """Decode and look at the document before pysaml2 does; return the parsed root."""
    if not saml_response_b64 or len(saml_response_b64) > MAX_RESPONSE_B64:
        raise ProtocolRefused("SAMLResponse missing or too large")
    try:
        raw = base64.b64decode("".join(saml_response_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolRefused("SAMLResponse is not base64") from exc
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise ProtocolRefused(f"SAMLResponse unreadable: {type(exc).__name__}: {exc}") from exc
    if root.tag != "{urn:oasis:names:tc:SAML:2.0:protocol}Response":
        raise ProtocolRefused(f"not a SAML Response: {str(root.tag)[:100]}")
    assertions = list(root.iter(SAML_ASSERTION))
    if len(assertions) != 1 or list(root.iter(SAML_ENCRYPTED_ASSERTION)):
        raise ProtocolRefused(f"{len(assertions)} assertions in the response (exactly 1 wanted)")
    if assertions[0] not in list(root):
        raise ProtocolRefused("the assertion is not a direct child of the Response")
    if assertions[0].find(f"{DS}Signature") is None:
        raise ProtocolRefused("the assertion is not signed")
    for method in root.iter(f"{DS}SignatureMethod"):
        if method.get("Algorithm") not in GOOD_SIGNATURES:
            raise ProtocolRefused(f"weak signature algorithm {method.get('Algorithm')}")
    for method in root.iter(f"{DS}DigestMethod"):
        if method.get("Algorithm") not in GOOD_DIGESTS:
            raise ProtocolRefused(f"weak digest algorithm {method.get('Algorithm')}")
    return root


_SIGNATURE = re.compile(rb"<((?:[A-Za-z_][\w.\-]*:)?)Signature\b[^>]*>.*?</\1Signature\s*>", re.S)
_ASSERTION_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?Assertion\b")


def _without_response_signature(saml_response_b64: str, root: Any) -> str:
    """The response without the Response element's own signature, when it has one.

    Bookplate requires (and pysaml2 checks) the signature of the one assertion, which covers
    everything the login uses (subject, attributes, audience, recipient, InResponseTo, times);
    the outer signature adds nothing but a second xmlsec1 run. Only the first Signature before
    the assertion is cut, and only when it is the Response's direct child; the cut document is
    checked again from scratch, so a wrong cut can only make the response fail.
    """
    if root.find(f"{DS}Signature") is None:
        return saml_response_b64
    raw = base64.b64decode("".join(saml_response_b64.split()), validate=True)
    first = _ASSERTION_START.search(raw)
    found = _SIGNATURE.search(raw)
    if first is None or found is None or found.start() > first.start():
        return saml_response_b64
    stripped = base64.b64encode(raw[:found.start()] + raw[found.end():]).decode("ascii")
    again = _precheck(stripped)
    if again.find(f"{DS}Signature") is not None:
        raise ProtocolRefused("the response's own signature is not where it belongs")
    return stripped


def _expiry(authn: Any, skew: int) -> datetime:
    latest = datetime.now(UTC) + timedelta(hours=1)
    try:
        conditions = authn.assertion.conditions
        if conditions is not None and conditions.not_on_or_after:
            ts = str_to_time(conditions.not_on_or_after)
            latest = datetime.fromtimestamp(calendar.timegm(ts), UTC)
    except (AttributeError, ValueError, TypeError):
        pass
    return latest + timedelta(seconds=skew)


def _check_audience(assertion: Any, entity_id: str) -> None:
    """At least one AudienceRestriction, and each of them names us (SAML core 2.5.1.4: every
    restriction must be met; the Web SSO profile requires one naming the SP). pysaml2 takes an
    assertion without any restriction as meant for everyone, and one restriction naming us as
    enough."""
    conditions = assertion.conditions
    restrictions = list(conditions.audience_restriction or []) if conditions is not None else []
    if not restrictions:
        raise ProtocolRefused("the assertion has no AudienceRestriction")
    for restriction in restrictions:
        audiences = {(a.text or "").strip() for a in restriction.audience or []}
        if entity_id not in audiences:
            raise ProtocolRefused(f"an AudienceRestriction does not name us: "
                                  f"{sorted(audiences)[:5]!r}")


def _check_confirmations(assertion: Any, acs_url: str, outstanding: dict[str, str]) -> None:
    """Web Browser SSO: bearer confirmations only (sender-vouches and holder-of-key prove
    nothing about the browser that posts the response), each with our ACS as Recipient and an
    outstanding InResponseTo. pysaml2 lets sender-vouches through and, without conversation
    details, any Recipient; what it kept after its time checks is what is looked at here."""
    confirmations = list(assertion.subject.subject_confirmation or []) \
        if assertion.subject is not None else []
    if not confirmations:
        raise ProtocolRefused("no subject confirmation")
    for confirmation in confirmations:
        if confirmation.method != SCM_BEARER:
            raise ProtocolRefused(f"subject confirmation method {confirmation.method!r} "
                                  "(only bearer)")
        data = confirmation.subject_confirmation_data
        if data is None or data.recipient != acs_url:
            recipient = getattr(data, "recipient", None)
            raise ProtocolRefused(f"SubjectConfirmationData Recipient {recipient!r} is not "
                                  "our ACS URL")
        if data.in_response_to not in outstanding or not data.not_on_or_after:
            raise ProtocolRefused("SubjectConfirmationData lacks an outstanding InResponseTo "
                                  "or a NotOnOrAfter")


def finish(
    profile: SamlProfile,
    saml_response_b64: str,
    outstanding_request_ids: Iterable[str],
    replay: ReplayCache,
) -> Identity:
    """Check the IdP's answer (HTTP-POST binding) and return who signed in."""
    try:
        root = _precheck(saml_response_b64)
        saml_response_b64 = _without_response_signature(saml_response_b64, root)
        outstanding = {rid: "/" for rid in outstanding_request_ids if rid}
        if not outstanding:
            raise ProtocolRefused("no outstanding request (unsolicited responses refused)")
        client = _client(profile)
        try:
            authn = client.parse_authn_request_response(
                saml_response_b64, BINDING_HTTP_POST, outstanding=outstanding
            )
        except ProtocolRefused:
            raise
        except Exception as exc:  # pysaml2 raises dozens of kinds; all are a refusal
            raise ProtocolRefused(f"pysaml2: {type(exc).__name__}: {str(exc)[:300]}") from exc
        if authn is None or authn.assertion is None:
            raise ProtocolRefused("no assertion accepted")
        if authn.in_response_to not in outstanding:
            raise ProtocolRefused("InResponseTo is not an outstanding request")
        _check_audience(authn.assertion, profile.sp_entity_id)
        _check_confirmations(authn.assertion, profile.acs_url, outstanding)
        expected_issuer = _idp(profile, client)
        if authn.issuer() != expected_issuer:
            raise ProtocolRefused(f"issuer {authn.issuer()!r} is not the profile's IdP")
        assertion_id = str(authn.assertion.id)
        if not replay.remember(f"saml:{profile.institution}:{profile.code}:{assertion_id}",
                               _expiry(authn, profile.clock_skew_s)):
            raise ProtocolRefused(f"assertion {assertion_id} replayed")
        attributes = {str(k): tuple(str(v) for v in vs)
                      for k, vs in (authn.get_identity() or {}).items()}
        name_id = authn.name_id.text.strip() if authn.name_id is not None and authn.name_id.text \
            else ""
        if profile.user_id_attribute:
            values = attributes.get(profile.user_id_attribute) or ()
            subject = values[0] if values else ""
        else:
            subject = name_id
        if not subject or len(subject) > 255:
            raise ProtocolRefused("no usable user ID in the assertion")
        if name_id:
            attributes.setdefault("name_id", (name_id,))
    except ProtocolRefused as exc:
        log.warning("saml.refused", profile=profile.code, reason=exc.reason)
        raise
    log.info("saml.authenticated", profile=profile.code, subject=subject)
    return Identity(
        method=Method.SAML,
        profile=profile.code,
        institution=profile.institution,
        subject=subject,
        attributes=attributes,
        session=_logout_details(authn),
    )


def _logout_details(authn: Any) -> dict[str, str]:
    """What a LogoutRequest names later: the NameID as sent (with its format and qualifiers)
    and the IdP's SessionIndex."""
    name_id = authn.name_id
    if name_id is None or not name_id.text:
        return {}
    details = {"name_id": name_id.text.strip()}
    for key, value in (("format", name_id.format), ("name_qualifier", name_id.name_qualifier),
                       ("sp_name_qualifier", name_id.sp_name_qualifier)):
        if value:
            details[key] = str(value)
    statements = authn.assertion.authn_statement or []
    if statements and statements[0].session_index:
        details["session_index"] = str(statements[0].session_index)
    return details


# --- single logout (HTTP-Redirect binding, messages signed with the SP key) -------------------

SIGN_ALG = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


@dataclass(frozen=True, slots=True)
class LogoutRequestIn:
    """An IdP's LogoutRequest, checked: whom to sign out, and where our answer goes."""

    name_id: str
    session_indexes: tuple[str, ...]
    response_url: str


def _idp_slo(client: Any, idp: str) -> dict[str, Any] | None:
    found = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
    return found[0] if found else None


def logout_url(profile: SamlProfile, details: dict[str, str]) -> str | None:
    """SP-initiated logout: the IdP URL carrying a signed LogoutRequest for the NameID and
    SessionIndex of the sign-in, or None when the profile or the IdP has no SLO endpoint."""
    if not profile.slo_url or not details.get("name_id"):
        return None
    client = _client(profile)
    idp = _idp(profile, client)
    endpoint = _idp_slo(client, idp)
    if endpoint is None:
        return None
    name_id = NameID(text=details["name_id"], format=details.get("format"),
                     name_qualifier=details.get("name_qualifier"),
                     sp_name_qualifier=details.get("sp_name_qualifier"))
    index = details.get("session_index")
    _, request = client.create_logout_request(
        endpoint["location"], idp, name_id=name_id, session_indexes=[index] if index else None,
        sign=False, expire=in_a_while(minutes=5))
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), endpoint["location"],
                                relay_state="", sign=True, sigalg=SIGN_ALG)
    return str(dict(info["headers"])["Location"])


def _redirect_signed_by_idp(client: Any, idp: str, kind: str, query: dict[str, str]) -> None:
    """HTTP-Redirect binding: the signature is over the query (SAML bindings 3.4.4.1); pysaml2
    checks it only when told a signature is required, so it is checked here, always."""
    sigalg, signature = query.get("SigAlg"), query.get("Signature")
    if not sigalg or not signature:
        raise ProtocolRefused(f"unsigned {kind}")
    if sigalg not in GOOD_SIGNATURES:
        raise ProtocolRefused(f"weak signature algorithm {sigalg[:100]}")
    message = {k: v for k, v in query.items() if k in (kind, "RelayState", "SigAlg",
                                                        "Signature")}
    certs = client.metadata.certs(idp, "any", "signing")
    try:
        good = any(verify_redirect_signature(message, client.sec.sec_backend, cert)
                   for _, cert in certs)
    except Exception as exc:  # pysaml2's many kinds: all a refusal
        raise ProtocolRefused(f"{kind} signature: {type(exc).__name__}") from exc
    if not good:
        raise ProtocolRefused(f"{kind} not signed by the IdP")


def _query(raw: Any) -> dict[str, str]:
    out = {k: str(raw.get(k)) for k in ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg",
                                         "Signature") if raw.get(k) is not None}
    if any(len(v) > MAX_RESPONSE_B64 for v in out.values()):
        raise ProtocolRefused("logout message too large")
    return out


def logout_request_in(profile: SamlProfile, raw_query: Any) -> tuple[LogoutRequestIn, str]:
    """IdP-initiated logout: check the LogoutRequest (signature by the IdP's key, issuer,
    destination = our SLO URL, time) and return it with the URL of our signed LogoutResponse."""
    try:
        if not profile.slo_url:
            raise ProtocolRefused("the profile has no single logout")
        query = _query(raw_query)
        if "SAMLRequest" not in query:
            raise ProtocolRefused("no SAMLRequest")
        client = _client(profile)
        idp = _idp(profile, client)
        _redirect_signed_by_idp(client, idp, "SAMLRequest", query)
        try:
            parsed = client.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        except Exception as exc:
            raise ProtocolRefused(f"pysaml2: {type(exc).__name__}: {str(exc)[:300]}") from exc
        message = parsed.message if parsed is not None else None
        if message is None:
            raise ProtocolRefused("unreadable LogoutRequest")
        issuer = (message.issuer.text or "").strip() if message.issuer is not None else ""
        if issuer != idp:
            raise ProtocolRefused(f"LogoutRequest issuer {issuer[:200]!r} is not the IdP")
        if message.destination != profile.slo_url:
            raise ProtocolRefused("LogoutRequest Destination is not our SLO URL")
        if message.not_on_or_after and \
                str_to_time(message.not_on_or_after) < time.gmtime(time.time() -
                                                                    profile.clock_skew_s):
            raise ProtocolRefused("LogoutRequest expired")
        if message.name_id is None or not message.name_id.text:
            raise ProtocolRefused("LogoutRequest without a NameID (encrypted IDs unsupported)")
        indexes = tuple(str(i.text).strip() for i in message.session_index or [] if i.text)
        endpoint = _idp_slo(client, idp)
        if endpoint is None:
            raise ProtocolRefused("the IdP metadata has no SingleLogoutService")
        response = client.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
        where = endpoint.get("response_location") or endpoint["location"]
        info = client.apply_binding(BINDING_HTTP_REDIRECT, str(response), where,
                                    relay_state=query.get("RelayState", ""), response=True,
                                    sign=True, sigalg=SIGN_ALG)
    except ProtocolRefused as exc:
        log.warning("saml.logout_refused", profile=profile.code, reason=exc.reason)
        raise
    found = LogoutRequestIn(message.name_id.text.strip(), indexes,
                            str(dict(info["headers"])["Location"]))
    log.info("saml.logout_request", profile=profile.code, sessions=len(indexes))
    return found, found.response_url


def logout_response_in(profile: SamlProfile, raw_query: Any) -> bool:
    """The IdP's answer to our LogoutRequest: True when signed by it and successful."""
    try:
        query = _query(raw_query)
        if "SAMLResponse" not in query:
            raise ProtocolRefused("no SAMLResponse")
        client = _client(profile)
        _redirect_signed_by_idp(client, _idp(profile, client), "SAMLResponse", query)
        try:
            response = client.parse_logout_request_response(query["SAMLResponse"],
                                                            BINDING_HTTP_REDIRECT)
        except Exception as exc:
            raise ProtocolRefused(f"pysaml2: {type(exc).__name__}: {str(exc)[:300]}") from exc
        status = response.response.status.status_code.value if response is not None else ""
    except ProtocolRefused as exc:
        log.warning("saml.logout_refused", profile=profile.code, reason=exc.reason)
        return False
    ok = status == "urn:oasis:names:tc:SAML:2.0:status:Success"
    log.info("saml.logout_response", profile=profile.code, success=ok)
    return ok
