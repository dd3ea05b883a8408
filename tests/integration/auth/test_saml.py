"""SAML SP against an in-process pysaml2 IdP: a good login, and every forgery refused."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import pytest

from bookplate.auth.backends.saml import (
    MemoryReplayCache,
    SamlProfile,
    finish,
    safe_relay_state,
    sp_metadata,
    start,
)
from bookplate.auth.errors import ProfileInvalid, ProtocolRefused
from bookplate.auth.model import Method
from tests.integration.auth.peers import need
from tests.integration.auth.saml_idp import (
    IDP_ID,
    InProcessIdP,
    b64,
    idp_config,
    idp_metadata,
    keypair,
)

ACS = "http://127.0.0.1:8000/auth/saml/main/acs"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    need("/usr/bin/xmlsec1")
    d = tmp_path_factory.mktemp("saml")
    return {name: keypair(d, name) for name in ("sp", "idp", "evil")}


@pytest.fixture(scope="module")
def world(keys: dict[str, tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[SamlProfile, SamlProfile, InProcessIdP]:
    d = tmp_path_factory.mktemp("idp")
    idp_md = idp_metadata(idp_config(d, keys["idp"], []))
    sp_cert, sp_key = keys["sp"]
    ours = SamlProfile(
        institution="INST", code="main", sp_entity_id="http://127.0.0.1:8000/auth/saml/main/metadata",
        acs_url=ACS, sp_key_file=sp_key, sp_cert_file=sp_cert, idp_metadata_xml=idp_md,
    )
    other = dataclasses.replace(ours, code="other",
                                sp_entity_id="http://127.0.0.1:8000/auth/saml/other/metadata",
                                acs_url="http://127.0.0.1:8000/auth/saml/other/acs")
    return ours, other, InProcessIdP(d, [ours, other], keys["idp"])


def login(world: tuple[SamlProfile, SamlProfile, InProcessIdP], **kw: object
          ) -> tuple[str, str]:
    ours, _, idp = world
    url, request_id = start(ours, "/after")
    return idp.respond(url, **kw), request_id  # type: ignore[arg-type]


def test_metadata_and_start(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    ours, _, _ = world
    md = sp_metadata(ours)
    assert ours.sp_entity_id in md and ACS in md and "X509Certificate" in md
    url, request_id = start(ours, "https://evil.example/")
    assert url.startswith("http://127.0.0.1:8088/idp/sso/redirect?SAMLRequest=")
    assert "RelayState=%2F" in url and "evil" not in url
    assert request_id


def test_good_login(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    ident = finish(world[0], b64(xml), [rid], MemoryReplayCache())
    assert ident.method is Method.SAML and ident.profile == "main" and ident.institution == "INST"
    assert ident.subject  # persistent NameID
    assert ident.first("mail") == "jdoe@example.org"
    assert ident.attributes["eduPersonAffiliation"] == ("student", "member")


def test_user_id_from_attribute(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    profile = dataclasses.replace(world[0], user_id_attribute="uid")
    url, rid = start(profile)
    ident = finish(profile, b64(world[2].respond(url)), [rid], MemoryReplayCache())
    assert ident.subject == "jdoe"


def refused(world: tuple[SamlProfile, SamlProfile, InProcessIdP], xml: str, rid: str,
            cache: MemoryReplayCache | None = None) -> ProtocolRefused:
    with pytest.raises(ProtocolRefused) as info:
        finish(world[0], b64(xml), [rid], cache or MemoryReplayCache())
    assert str(info.value) == "User authentication failed"
    return info.value


def test_replayed(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    cache = MemoryReplayCache()
    finish(world[0], b64(xml), [rid], cache)
    assert "replayed" in refused(world, xml, rid, cache).reason


def test_tampered(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    refused(world, xml.replace("jdoe@example.org", "evil@example.org"), rid)


def test_unsigned(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world, sign_assertion=False, sign_response=False)
    refused(world, xml, rid)


def test_only_response_signed(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world, sign_assertion=False, sign_response=True)
    refused(world, xml, rid)


def test_signed_by_another_key(world: tuple[SamlProfile, SamlProfile, InProcessIdP],
                               keys: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    evil = InProcessIdP(tmp_path, [world[0]], keys["evil"])  # same entity ID, other key
    url, rid = start(world[0])
    refused(world, evil.respond(url), rid)


def test_sha1_signature_refused(world: tuple[SamlProfile, SamlProfile, InProcessIdP],
                                keys: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    sha1 = InProcessIdP(tmp_path, [world[0]], keys["idp"], algorithms={
        "signing_algorithm": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "digest_algorithm": "http://www.w3.org/2000/09/xmldsig#sha1"})
    url, rid = start(world[0])
    assert "weak" in refused(world, sha1.respond(url), rid).reason


def test_expired(world: tuple[SamlProfile, SamlProfile, InProcessIdP],
                 keys: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    old = InProcessIdP(tmp_path, [world[0]], keys["idp"], lifetime_minutes=-10)
    url, rid = start(world[0])
    refused(world, old.respond(url), rid)


def test_other_audience(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    _, other, idp = world
    url, rid = start(other)  # a request of another SP: the response names that audience
    refused(world, idp.respond(url), rid)


def test_wrong_recipient(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    ours, _, idp = world
    url, rid = start(ours)
    refused(world, idp.respond(url, destination="http://evil.example/acs"), rid)


def test_not_in_response_to_our_request(world: tuple[SamlProfile, SamlProfile, InProcessIdP]
                                        ) -> None:
    xml, _ = login(world)
    refused(world, xml, "id-someone-elses-request")
    with pytest.raises(ProtocolRefused):
        finish(world[0], b64(xml), [], MemoryReplayCache())  # unsolicited


def test_entities_refused(world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    body = re.sub(r"^<\?xml[^>]*\?>", "", xml)
    for doctype in ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                    '<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'):
        refused(world, doctype + body.replace("jdoe@example.org", "&x;"), rid)


def _assertion(xml: str) -> str:
    m = re.search(r"<(\w+:)?Assertion\b.*?</(\w+:)?Assertion>", xml, re.S)
    assert m
    return m.group(0)


def test_xsw_evil_assertion_before_signed_one(
        world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    signed = _assertion(xml)
    evil = re.sub(r'ID="[^"]+"', 'ID="evil-1"', signed, count=1)
    evil = re.sub(r"<ds:Signature.*?</ds:Signature>", "", evil, flags=re.S)
    evil = evil.replace("jdoe@example.org", "admin@example.org")
    refused(world, xml.replace(signed, evil + signed), rid)


def test_xsw_signed_assertion_hidden_in_extensions(
        world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    signed = _assertion(xml)
    evil = re.sub(r'ID="[^"]+"', 'ID="evil-2"', signed, count=1)
    evil = re.sub(r"<ds:Signature.*?</ds:Signature>", "", evil, flags=re.S)
    wrapped = ('<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
               + signed + "</samlp:Extensions>" + evil)
    refused(world, xml.replace(signed, wrapped), rid)


def test_xsw_signed_assertion_replaced_id_reference(
        world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    xml, rid = login(world)
    signed = _assertion(xml)
    evil = signed.replace("jdoe@example.org", "admin@example.org")
    # keep the original (signed) assertion nested inside the evil one's Subject
    evil = evil.replace("</saml:Subject>", signed + "</saml:Subject>", 1)
    refused(world, xml.replace(signed, evil), rid)


@pytest.mark.parametrize(
    "value",
    ["", "!!!not base64!!!", base64.b64encode(b"not xml").decode(),
     base64.b64encode(b"<a/>").decode(), "A" * (600 * 1024),
     base64.b64encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>")
     .decode()],
)
def test_malformed(world: tuple[SamlProfile, SamlProfile, InProcessIdP], value: str) -> None:
    with pytest.raises(ProtocolRefused):
        finish(world[0], value, ["id-1"], MemoryReplayCache())


@pytest.mark.parametrize(
    ("given", "kept"),
    [("/a?b=1", "/a?b=1"), ("https://evil.example/", "/"), ("//evil.example", "/"),
     ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), (None, "/"), ("/x\r\ny", "/")],
)
def test_relay_state(given: str | None, kept: str) -> None:
    assert safe_relay_state(given) == kept


def test_profile_validation(keys: dict[str, tuple[str, str]]) -> None:
    with pytest.raises(ProfileInvalid):
        SamlProfile("I", "c", "e", ACS, "k", "c")  # no metadata
    with pytest.raises(ProfileInvalid):
        SamlProfile("I", "c", "e", ACS, "k", "c", idp_metadata_url="http://x",
                    idp_metadata_xml="<x/>")
    assert IDP_ID


def test_response_signature_not_needed_but_assertion_signature_is(
        world: tuple[SamlProfile, SamlProfile, InProcessIdP]) -> None:
    """Only the assertion's signature is verified; the outer one is cut before pysaml2 runs."""
    xml, rid = login(world, sign_assertion=True, sign_response=True)
    outer = re.search(r"<(?:\w+:)?SignatureValue>\s*([^<]+)</", xml)
    assert outer and outer.start() < xml.index(_assertion(xml))
    value = outer.group(1).strip()
    broken = xml.replace(value, ("B" if value[0] == "A" else "A") + value[1:], 1)
    assert _assertion(broken) == _assertion(xml)  # only the Response's signature was touched
    assert finish(world[0], b64(broken), [rid], MemoryReplayCache()).first("mail")
    xml, rid = login(world, sign_assertion=True, sign_response=True)
    refused(world, xml.replace("jdoe@example.org", "admin@example.org"), rid)
