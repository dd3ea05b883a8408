"""SAML single logout, HTTP-Redirect binding, messages signed with the SP key: our
LogoutRequest at sign-out, and the IdP's LogoutRequest (IdP-initiated) or LogoutResponse (to
ours), each refused unless signed by a key of the IdP's metadata with a strong algorithm."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NameID
from saml2.sigver import verify_redirect_signature
from saml2.time_util import in_a_while, str_to_time

from bookplate.auth.backends.saml_checks import GOOD_SIGNATURES, MAX_RESPONSE_B64
from bookplate.auth.backends.saml_client import SamlProfile, client_for, idp_entity
from bookplate.auth.errors import ProtocolRefused

log = structlog.get_logger("bookplate.auth.saml")

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
    client = client_for(profile)
    idp = idp_entity(profile, client)
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
        client = client_for(profile)
        idp = idp_entity(profile, client)
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
        client = client_for(profile)
        _redirect_signed_by_idp(client, idp_entity(profile, client), "SAMLResponse", query)
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
