"""The checks ``saml.finish`` makes of an IdP's response before and on top of pysaml2's own
(see the list in ``saml.py``): the document's shape and algorithms before parsing, the
response's own signature cut, and audience and subject confirmations after."""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from saml2.saml import SCM_BEARER
from saml2.time_util import str_to_time

from bookplate.auth.errors import ProtocolRefused

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

def precheck(saml_response_b64: str) -> Any:
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


def without_response_signature(saml_response_b64: str, root: Any) -> str:
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
    again = precheck(stripped)
    if again.find(f"{DS}Signature") is not None:
        raise ProtocolRefused("the response's own signature is not where it belongs")
    return stripped


def expiry(authn: Any, skew: int) -> datetime:
    latest = datetime.now(UTC) + timedelta(hours=1)
    try:
        conditions = authn.assertion.conditions
        if conditions is not None and conditions.not_on_or_after:
            ts = str_to_time(conditions.not_on_or_after)
            latest = datetime.fromtimestamp(calendar.timegm(ts), UTC)
    except (AttributeError, ValueError, TypeError):
        pass
    return latest + timedelta(seconds=skew)


def check_audience(assertion: Any, entity_id: str) -> None:
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


def check_confirmations(assertion: Any, acs_url: str, outstanding: dict[str, str]) -> None:
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
