"""OIDC relying party against the real npm oidc-provider on loopback: code + PKCE S256, state,
nonce, ID token checks, claims, and refusals (forged tokens, replayed codes, bad input)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bookplate.auth.backends import oidc
from bookplate.auth.backends.oidc import OidcProfile, start, verify_id_token
from bookplate.auth.backends.oidc import finish as backend_finish
from bookplate.auth.errors import ProfileInvalid, ProtocolRefused, ProviderUnavailable
from bookplate.auth.model import Identity, Method
from tests.integration.auth.conftest import OidcServer, oidc_browser_login
from tests.integration.auth.peers import free_port


@pytest.fixture
def profile(oidc_server: OidcServer) -> Iterator[OidcProfile]:
    oidc.forget_provider(oidc_server.issuer)
    yield OidcProfile(
        institution="INST", code="op", issuer=oidc_server.issuer, client_id="svc-test",
        client_secret="svc-test-secret", redirect_uri=oidc_server.redirect_uri,
        scopes=("openid", "email", "profile", "groups"),
    )


def sign_in(server: OidcServer, profile: OidcProfile, user: str = "alice",
            password: str = "alice-pw") -> tuple[str, str, str, str, str]:
    url, state, nonce, verifier = start(profile)
    callback = oidc_browser_login(server, url, user, password)
    assert callback, "the provider did not redirect back"
    q = parse_qs(urlsplit(callback).query)
    assert q["iss"] == [server.issuer]  # RFC 9207: the provider names itself (see finish)
    return q["code"][0], q["state"][0], state, nonce, verifier


def finish(profile: OidcProfile, *args: str) -> Identity:
    """The backend's finish with the ``iss`` the provider's redirect carried (``sign_in``
    checked it is the issuer); tests/integration/auth/test_protocol_binding.py covers iss."""
    return backend_finish(profile, *args, iss=profile.issuer)


def test_start_uses_pkce_s256_state_and_nonce(profile: OidcProfile) -> None:
    url, state, nonce, verifier = start(profile)
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and q["code_challenge"][0] != verifier
    assert q["state"] == [state] and q["nonce"] == [nonce] and len(verifier) >= 43
    assert q["scope"] == ["openid email profile groups"]


def test_good_login_confidential_client(oidc_server: OidcServer, profile: OidcProfile) -> None:
    code, state, expected, nonce, verifier = sign_in(oidc_server, profile)
    ident = finish(profile, code, state, expected, nonce, verifier)
    assert ident.method is Method.OIDC and ident.profile == "op" and ident.institution == "INST"
    assert ident.subject == "u-alice-0001"
    assert ident.first("email") == "alice@example.org"
    assert ident.attributes["groups"] == ("staff", "admins")
    assert ident.first("given_name") == "Alice"


def test_good_login_public_client_and_claim_mapping(oidc_server: OidcServer,
                                                    profile: OidcProfile) -> None:
    public = dataclasses.replace(profile, client_id="svc-public", client_secret=None,
                                 user_id_claim="email")
    code, state, expected, nonce, verifier = sign_in(oidc_server, public, "bob", "bob-pw")
    ident = finish(public, code, state, expected, nonce, verifier)
    assert ident.subject == "bob@example.org"
    assert ident.attributes["eduPersonAffiliation"] == ("student",)


def test_wrong_password_gives_no_code(oidc_server: OidcServer, profile: OidcProfile) -> None:
    url, *_ = start(profile)
    assert oidc_browser_login(oidc_server, url, "alice", "wrong") is None


def refused(profile: OidcProfile, *args: str) -> ProtocolRefused:
    with pytest.raises(ProtocolRefused) as info:
        finish(profile, *args)
    assert str(info.value) == "User authentication failed"
    return info.value


def test_state_mismatch(oidc_server: OidcServer, profile: OidcProfile) -> None:
    code, state, _, nonce, verifier = sign_in(oidc_server, profile)
    refused(profile, code, state, "another-state", nonce, verifier)
    refused(profile, code, state, "", nonce, verifier)


def test_code_replay(oidc_server: OidcServer, profile: OidcProfile) -> None:
    args = sign_in(oidc_server, profile)
    finish(profile, *args)
    assert "invalid_grant" in refused(profile, *args).reason


def test_wrong_verifier(oidc_server: OidcServer, profile: OidcProfile) -> None:
    code, state, expected, nonce, _ = sign_in(oidc_server, profile)
    assert "invalid_grant" in refused(profile, code, state, expected, nonce, "x" * 64).reason


def test_wrong_nonce(oidc_server: OidcServer, profile: OidcProfile) -> None:
    code, state, expected, _, verifier = sign_in(oidc_server, profile)
    refused(profile, code, state, expected, "another-nonce", verifier)


def test_code_for_another_client(oidc_server: OidcServer, profile: OidcProfile) -> None:
    public = dataclasses.replace(profile, client_id="svc-public", client_secret=None)
    code, state, expected, nonce, verifier = sign_in(oidc_server, public, "bob", "bob-pw")
    refused(profile, code, state, expected, nonce, verifier)


@pytest.mark.parametrize("code", ["", "a b", "x" * 5000, "<script>", "code\r\n", "ü"])
def test_malformed_codes(profile: OidcProfile, code: str) -> None:
    refused(profile, code, "s", "s", "n", "v")


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()




def test_forged_id_tokens(oidc_server: OidcServer, profile: OidcProfile) -> None:
    nonce = "n-123"
    base = {"iss": profile.issuer, "aud": profile.client_id, "sub": "u-alice-0001",
            "nonce": nonce, "iat": 2_000_000_000 - 10, "exp": 2_000_000_000}
    evil_key = RSAKey.generate_key(2048, parameters={"kid": "evil"})
    kid = oidc._provider(profile).keys.keys[0].kid
    foreign = RSAKey.generate_key(2048, parameters={"kid": kid})  # same kid, other key
    cases = [
        jwt.encode({"alg": "RS256", "kid": "evil"}, base, evil_key),
        jwt.encode({"alg": "RS256", "kid": kid}, base, foreign),
        _b64({"alg": "none"}) + "." + _b64(base) + ".",
        _b64({"alg": "HS256", "kid": kid}) + "." + _b64(base) + ".c2ln",
        "not.a.jwt",
        "",
        "a" * 70_000,
    ]
    for token in cases:
        with pytest.raises(ProtocolRefused):
            verify_id_token(profile, token, nonce)


def test_expired_other_issuer_other_audience(oidc_server: OidcServer,
                                             profile: OidcProfile) -> None:
    # re-sign a modified copy of a real token? Not possible without the OP's key: so check the
    # claim rules on a token the OP issued, through the profile's expectations instead.
    code, state, expected, nonce, verifier = sign_in(oidc_server, profile)
    other_aud = dataclasses.replace(profile, client_id="svc-public", client_secret=None)
    with pytest.raises(ProtocolRefused):
        finish(other_aud, code, state, expected, nonce, verifier)  # code bound to svc-test
    code, state, expected, nonce, verifier = sign_in(oidc_server, profile)
    tokens = oidc._token(profile, oidc._provider(profile), code, verifier)
    with pytest.raises(ProtocolRefused):
        verify_id_token(other_aud, tokens["id_token"], nonce)  # aud is svc-test
    wrong_iss = dataclasses.replace(profile, issuer=profile.issuer + "/other")
    oidc._providers[wrong_iss.issuer] = oidc._provider(profile)
    with pytest.raises(ProtocolRefused):
        verify_id_token(wrong_iss, tokens["id_token"], nonce)
    oidc.forget_provider(wrong_iss.issuer)
    verify_id_token(profile, tokens["id_token"], nonce)  # the same token is fine for us
    late = dataclasses.replace(profile, leeway_s=-3600)  # as if an hour had passed
    with pytest.raises(ProtocolRefused):
        verify_id_token(late, tokens["id_token"], nonce)


def test_provider_down(profile: OidcProfile) -> None:
    down = dataclasses.replace(profile, issuer=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(ProviderUnavailable):
        start(down)
    with pytest.raises(ProviderUnavailable):
        finish(down, "abc", "s", "s", "n", "v")


def test_profile_validation() -> None:
    with pytest.raises(ProfileInvalid):
        OidcProfile("I", "c", issuer="ftp://x", client_id="a", redirect_uri="http://r/")
    with pytest.raises(ProfileInvalid):
        OidcProfile("I", "c", issuer="http://x", client_id="a", redirect_uri="http://r/",
                    scopes=("email",))
