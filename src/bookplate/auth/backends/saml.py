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

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import structlog
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.metadata import entity_descriptor, metadata_tostring_fix
from saml2.validate import valid_instance

from bookplate.auth.backends import saml_logout
from bookplate.auth.backends.base import RedirectDefaults
from bookplate.auth.backends.saml_checks import (
    GOOD_DIGESTS,
    GOOD_SIGNATURES,
    check_audience,
    check_confirmations,
    expiry,
    precheck,
    without_response_signature,
)
from bookplate.auth.backends.saml_client import SamlProfile, client_for, idp_entity, sp_config
from bookplate.auth.errors import ProfileInvalid, ProtocolRefused
from bookplate.auth.model import Identity, Method
from bookplate.auth.ports import Leg, ProviderLogout, ReplayCache, SessionLink, Started

log = structlog.get_logger("bookplate.auth.saml")

ALGSUPPORT_NS = "urn:oasis:names:tc:SAML:metadata:algsupport"


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


def sp_metadata(profile: SamlProfile) -> str:
    """Our SP metadata (entity ID, ACS, signing certificate), valid for 7 days."""
    try:
        config = sp_config(profile)  # loads the IdP metadata too (a URL is fetched)
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
    client = client_for(profile)
    request_id, info = client.prepare_for_authenticate(
        entityid=idp_entity(profile, client),
        relay_state=safe_relay_state(relay_state),
        binding=BINDING_HTTP_REDIRECT,
        sign=profile.sign_requests,
    )
    location = dict(info["headers"])["Location"]
    return str(location), str(request_id)


def finish(
    profile: SamlProfile,
    saml_response_b64: str,
    outstanding_request_ids: Iterable[str],
    replay: ReplayCache,
) -> Identity:
    """Check the IdP's answer (HTTP-POST binding) and return who signed in."""
    try:
        root = precheck(saml_response_b64)
        saml_response_b64 = without_response_signature(saml_response_b64, root)
        outstanding = {rid: "/" for rid in outstanding_request_ids if rid}
        if not outstanding:
            raise ProtocolRefused("no outstanding request (unsolicited responses refused)")
        client = client_for(profile)
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
        check_audience(authn.assertion, profile.sp_entity_id)
        check_confirmations(authn.assertion, profile.acs_url, outstanding)
        expected_issuer = idp_entity(profile, client)
        if authn.issuer() != expected_issuer:
            raise ProtocolRefused(f"issuer {authn.issuer()!r} is not the profile's IdP")
        assertion_id = str(authn.assertion.id)
        if not replay.remember(f"saml:{profile.institution}:{profile.code}:{assertion_id}",
                               expiry(authn, profile.clock_skew_s)):
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


class SamlBackend(RedirectDefaults):
    """SAML 2.0 Web Browser SSO: AuthnRequest by HTTP-Redirect, the response posted to the
    ACS, SP metadata, and single logout on ``slo``."""

    method: ClassVar[Method] = Method.SAML
    profile_type: ClassVar[type[Any]] = SamlProfile
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    endpoints: Mapping[tuple[str, str], Leg] = {
        ("GET", "login"): Leg.START, ("POST", "acs"): Leg.FINISH,
        ("GET", "metadata"): Leg.METADATA, ("GET", "slo"): Leg.LOGOUT}
    keeps_pending = True  # a replayed response from the same browser meets the replay cache

    def start(self, profile: SamlProfile, next_url: str) -> Started:
        url, request_id = start(profile, next_url)
        return Started(url, {"request_ids": [request_id]})

    def finish(self, profile: SamlProfile, pending: Mapping[str, Any],
               callback: Mapping[str, str]) -> Identity:
        ids = [str(i) for i in pending.get("request_ids") or [] if isinstance(i, str)]
        return finish(profile, callback.get("SAMLResponse", ""), ids, self.context.replay)

    def session_link(self, profile: SamlProfile, identity: Identity) -> SessionLink | None:
        name_id = identity.session.get("name_id")
        if not name_id or not profile.slo_url:
            return None
        return SessionLink(profile.institution, self.method.value, profile.code, name_id,
                           identity.session.get("session_index"), dict(identity.session))

    def logout_url(self, profile: SamlProfile, link: SessionLink) -> str | None:
        return saml_logout.logout_url(profile, link.data)

    def logout_fields(self) -> tuple[str, ...]:
        return ("SAMLRequest", "SAMLResponse")

    def provider_logout(self, profile: SamlProfile, message: Mapping[str, str]
                        ) -> ProviderLogout:
        if message.get("SAMLRequest"):  # the IdP signs someone out: end their sessions
            request, answer = saml_logout.logout_request_in(profile, message)
            return ProviderLogout(True, request.name_id, request.session_indexes, answer)
        # the IdP's answer to our request: the session here ended before the browser left
        saml_logout.logout_response_in(profile, message)
        return ProviderLogout(False)

    def metadata(self, profile: SamlProfile) -> tuple[str, str]:
        return sp_metadata(profile), "application/samlmetadata+xml"
