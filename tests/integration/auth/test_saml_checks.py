"""SAML checks pysaml2 leaves to its caller (issue 14 item 9), each against a real pysaml2 IdP
answer that is properly signed and wrong in exactly one way: no AudienceRestriction, an
AudienceRestriction that also names someone else, a SubjectConfirmationData Recipient other
than our ACS, a sender-vouches or holder-of-key confirmation; and the SP metadata advertising
only strong algorithms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from saml2 import saml

from bookplate.auth.backends.saml import (
    GOOD_DIGESTS,
    GOOD_SIGNATURES,
    MemoryReplayCache,
    SamlProfile,
    finish,
    sp_metadata,
    start,
)
from bookplate.auth.errors import ProtocolRefused
from tests.integration.auth.saml_idp import InProcessIdP, b64
from tests.integration.auth.test_saml import ACS, keys, world  # noqa: F401  (fixtures)

World = tuple[SamlProfile, SamlProfile, InProcessIdP]
ALG = "{urn:oasis:names:tc:SAML:metadata:algsupport}"
SENDER_VOUCHES = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"


def _answer(world: World,  # noqa: F811
            tweak: Callable[[Any], None] | None) -> tuple[str, str]:
    ours, _, idp = world
    url, rid = start(ours, "/after")
    return idp.respond(url, tweak=tweak), rid


def _signed_assertion(xml: str) -> bool:
    root = etree.fromstring(xml.encode())
    found = root.findall("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    return len(found) == 1 and found[0].find("{http://www.w3.org/2000/09/xmldsig#}Signature") \
        is not None


def _refused(world: World, tweak: Callable[[Any], None], words: str) -> None:  # noqa: F811
    xml, rid = _answer(world, tweak)
    assert _signed_assertion(xml)
    with pytest.raises(ProtocolRefused) as info:
        finish(world[0], b64(xml), [rid], MemoryReplayCache())
    assert words in info.value.reason, info.value.reason


def test_the_untweaked_answer_is_accepted(world: World) -> None:  # noqa: F811
    """The control: the same IdP, the same signing, nothing changed: signs in."""
    xml, rid = _answer(world, lambda assertion: None)
    assert finish(world[0], b64(xml), [rid], MemoryReplayCache()).first("mail")


def test_no_audience_restriction_refused(world: World) -> None:  # noqa: F811
    def drop(assertion: Any) -> None:
        assert assertion.conditions.audience_restriction
        assertion.conditions.audience_restriction = []
    _refused(world, drop, "AudienceRestriction")


def test_no_conditions_at_all_refused(world: World) -> None:  # noqa: F811
    def drop(assertion: Any) -> None:
        assertion.conditions = None
    _refused(world, drop, "AudienceRestriction")


def test_every_audience_restriction_must_name_us(world: World) -> None:  # noqa: F811
    """Several AudienceRestriction elements must all be met (SAML core 2.5.1.4): one naming us
    beside one naming only another SP is not an assertion for us."""
    def add_other(assertion: Any) -> None:
        assertion.conditions.audience_restriction.append(saml.AudienceRestriction(
            audience=[saml.Audience(text="https://other-sp.example/metadata")]))
    _refused(world, add_other, "AudienceRestriction")


def test_wrong_recipient_refused(world: World) -> None:  # noqa: F811
    """The Response's Destination stays right; only the confirmation's Recipient is wrong."""
    def elsewhere(assertion: Any) -> None:
        data = assertion.subject.subject_confirmation[0].subject_confirmation_data
        assert data.recipient == ACS
        data.recipient = "http://evil.example/acs"
    _refused(world, elsewhere, "Recipient")


def test_missing_recipient_refused(world: World) -> None:  # noqa: F811
    def none(assertion: Any) -> None:
        assertion.subject.subject_confirmation[0].subject_confirmation_data.recipient = None
    _refused(world, none, "")


def test_sender_vouches_refused(world: World) -> None:  # noqa: F811
    def vouch(assertion: Any) -> None:
        assertion.subject.subject_confirmation[0].method = SENDER_VOUCHES
    _refused(world, vouch, "sender-vouches")


def test_sender_vouches_beside_bearer_refused(world: World) -> None:  # noqa: F811
    def add(assertion: Any) -> None:
        bearer = assertion.subject.subject_confirmation[0]
        assertion.subject.subject_confirmation.append(saml.SubjectConfirmation(
            method=SENDER_VOUCHES,
            subject_confirmation_data=saml.SubjectConfirmationData(
                recipient=ACS, in_response_to=bearer.subject_confirmation_data.in_response_to,
                not_on_or_after=bearer.subject_confirmation_data.not_on_or_after)))
    _refused(world, add, "sender-vouches")


def test_sp_metadata_advertises_only_strong_algorithms(world: World) -> None:  # noqa: F811
    md = etree.fromstring(sp_metadata(world[0]).encode())
    digests = {e.get("Algorithm") for e in md.iter(f"{ALG}DigestMethod")}
    signing = {e.get("Algorithm") for e in md.iter(f"{ALG}SigningMethod")}
    assert digests and digests <= GOOD_DIGESTS, digests
    assert signing and signing <= GOOD_SIGNATURES, signing
    text = etree.tostring(md).decode()
    for weak in ("#md5", "#sha1", "rsa-md5", "rsa-sha1", "dsa-sha1", "ripemd160", "sha224"):
        assert weak not in text, weak
    assert "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" in signing
    assert "http://www.w3.org/2001/04/xmlenc#sha256" in digests
