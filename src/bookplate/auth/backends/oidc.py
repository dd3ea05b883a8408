"""OpenID Connect relying party: authorization code flow with PKCE (S256), state and nonce.

``start(profile)`` returns the authorization URL plus the ``state``, ``nonce`` and PKCE
``verifier`` the caller keeps in the browser's session; ``finish(profile, code, state,
expected_state, nonce, verifier)`` exchanges the code and checks the ID token: signature
against the provider's JWKS (asymmetric algorithms only: never ``none`` or HMAC), ``iss``,
``aud`` (and ``azp`` when there are several audiences), ``exp``/``iat`` with a small leeway and
``nonce``. Claims from userinfo are merged in when the profile asks (its ``sub`` must match).

authlib 1.9 (its ``CodeIDToken`` rules) and joserfc do the JOSE work; HTTP goes through httpx2.
Discovery documents and key sets are cached per issuer; an unknown ``kid`` refreshes the keys
once (key rotation).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx2
import structlog
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from bookplate.auth.backends.base import RedirectDefaults
from bookplate.auth.errors import ProfileInvalid, ProtocolRefused, ProviderUnavailable
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.auth.ports import Leg, SessionLink, Started

log = structlog.get_logger("bookplate.auth.oidc")

ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
CODE = re.compile(r"[A-Za-z0-9._~\-]{1,2048}")
MAX_DOCUMENT = 512 * 1024
CACHE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class OidcProfile:
    institution: str
    code: str
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = None  # None: a public client (PKCE only)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: The claim holding the user ID (``sub``, ``email``, ``preferred_username``...).
    user_id_claim: str = "sub"
    use_userinfo: bool = True
    leeway_s: int = 60
    timeout_s: float = 10.0
    mapping: UserMapping = field(default_factory=UserMapping)
    #: RP-initiated logout: at sign-out, send the browser to the provider's
    #: ``end_session_endpoint`` (when it has one) with the ID token as hint...
    single_logout: bool = False
    #: ...and ask it to come back here afterwards (register it with the provider).
    post_logout_redirect_uri: str | None = None

    def __post_init__(self) -> None:
        for name in ("issuer", "redirect_uri", "post_logout_redirect_uri"):
            if getattr(self, name) is None:
                continue
            parts = urlsplit(getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ProfileInvalid(f"{name} must be an http(s) URL.")
        if "openid" not in self.scopes:
            raise ProfileInvalid("The scopes must include openid.")
        if not self.client_id:
            raise ProfileInvalid("client_id is required.")


@dataclass
class _Provider:
    meta: dict[str, Any]
    keys: KeySet
    fetched: float


_providers: dict[str, _Provider] = {}
_lock = threading.Lock()


def _get_json(http: httpx2.Client, url: str) -> dict[str, Any]:
    try:
        resp = http.get(url, headers={"Accept": "application/json"})
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200 or len(resp.content) > MAX_DOCUMENT:
        raise ProviderUnavailable(f"{url}: HTTP {resp.status_code}, {len(resp.content)} bytes")
    try:
        data = resp.json()
    except ValueError as exc:
        raise ProviderUnavailable(f"{url}: not JSON") from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    return data


def _http(profile: OidcProfile) -> httpx2.Client:
    return httpx2.Client(timeout=profile.timeout_s, follow_redirects=False)


def _provider(profile: OidcProfile, *, refresh_keys: bool = False) -> _Provider:
    key = profile.issuer
    with _lock:
        cached = _providers.get(key)
    if cached and not refresh_keys and time.monotonic() - cached.fetched < CACHE_SECONDS:
        return cached
    with _http(profile) as http:
        meta = cached.meta if cached and refresh_keys else _get_json(
            http, profile.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if meta.get("issuer") != profile.issuer:
            raise ProviderUnavailable(f"discovery issuer {meta.get('issuer')!r} differs")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(name), str):
                raise ProviderUnavailable(f"discovery lacks {name}")
        try:
            # [arg-type] below: joserfc types the key set narrower than the JSON the provider sends
            keys = KeySet.import_key_set(_get_json(http, meta["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(f"unusable JWKS: {exc}") from exc
    provider = _Provider(meta=meta, keys=keys, fetched=time.monotonic())
    with _lock:
        _providers[key] = provider
    return provider


def forget_provider(issuer: str) -> None:
    """Drop the cached discovery document and keys (tests restart providers)."""
    with _lock:
        _providers.pop(issuer, None)


def start(profile: OidcProfile) -> tuple[str, str, str, str]:
    """(authorization URL, state, nonce, PKCE verifier); keep the last three in the session."""
    provider = _provider(profile)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), \
        generate_token(64)
    params = {
        "response_type": "code",
        "client_id": profile.client_id,
        "redirect_uri": profile.redirect_uri,
        "scope": " ".join(profile.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    endpoint = str(provider.meta["authorization_endpoint"])
    sep = "&" if "?" in endpoint else "?"
    return f"{endpoint}{sep}{urlencode(params)}", state, nonce, verifier


def _token(profile: OidcProfile, provider: _Provider, code: str, verifier: str) -> dict[str, Any]:
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": profile.redirect_uri, "code_verifier": verifier}
    extra: dict[str, Any] = {}
    if profile.client_secret is None:
        data["client_id"] = profile.client_id
    else:  # client_secret_basic
        extra["auth"] = httpx2.BasicAuth(profile.client_id, profile.client_secret)
    with _http(profile) as http:
        try:
            resp = http.post(str(provider.meta["token_endpoint"]), data=data,
                             headers={"Accept": "application/json"}, **extra)
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}: {exc}") from exc
    try:
        body = resp.json() if len(resp.content) <= MAX_DOCUMENT else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProtocolRefused(f"token endpoint: HTTP {resp.status_code}, not a JSON object")
    if resp.status_code != 200:
        raise ProtocolRefused(f"token endpoint refused: {body.get('error')}: "
                              f"{str(body.get('error_description'))[:200]}")
    if not isinstance(body.get("id_token"), str):
        raise ProtocolRefused("token response has no id_token")
    return body


def verify_id_token(profile: OidcProfile, id_token: str, nonce: str,
                    access_token: str | None = None) -> dict[str, Any]:
    """Signature, iss, aud/azp, exp/iat, nonce (and at_hash when an access token is given)."""
    if len(id_token) > 64 * 1024:
        raise ProtocolRefused("ID token too large")
    provider = _provider(profile)
    supported = provider.meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = [a for a in supported if a in ALLOWED_ALGS] if isinstance(supported, list) else []
    if not algs:
        raise ProtocolRefused(f"no acceptable ID token algorithm in {supported!r}")
    registry = JWSRegistry(algorithms=algs)
    try:
        try:
            token = jwt.decode(id_token, provider.keys, registry=registry)
        except JoseError as exc:
            if "kid" not in str(exc).lower() and type(exc).__name__ != "InvalidKeyIdError":
                raise
            provider = _provider(profile, refresh_keys=True)  # key rotation
            token = jwt.decode(id_token, provider.keys, registry=registry)
        claims = CodeIDToken(
            token.claims, token.header,
            {"iss": {"essential": True, "value": profile.issuer},
             "aud": {"essential": True, "value": profile.client_id},
             "exp": {"essential": True}, "iat": {"essential": True},
             "nonce": {"essential": True}},
            {"nonce": nonce, "client_id": profile.client_id, "access_token": access_token},
        )
        claims.validate(leeway=profile.leeway_s)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProtocolRefused(f"ID token refused: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # authlib's claim errors (InvalidClaimError, ...)
        raise ProtocolRefused(f"ID token refused: {type(exc).__name__}: {exc}") from exc
    # CodeIDToken checks nonce only when the token carries one; it is essential here
    if not hmac.compare_digest(str(token.claims.get("nonce", "")), nonce):
        raise ProtocolRefused("nonce mismatch")
    if not isinstance(token.claims.get("sub"), str) or not token.claims["sub"]:
        raise ProtocolRefused("ID token has no sub")
    return dict(token.claims)


def _userinfo(profile: OidcProfile, provider: _Provider, access_token: str) -> dict[str, Any]:
    url = provider.meta.get("userinfo_endpoint")
    if not isinstance(url, str):
        return {}
    with _http(profile) as http:
        try:
            resp = http.get(url, headers={"Authorization": f"Bearer {access_token}",
                                          "Accept": "application/json"})
            data = resp.json() if resp.status_code == 200 and len(resp.content) <= MAX_DOCUMENT \
                else None
        except (httpx2.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"userinfo: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable("userinfo: not a JSON object")
    return data


def _as_values(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(v if isinstance(v, str) else json.dumps(v) for v in value)
    if isinstance(value, str):
        return (value,)
    return (json.dumps(value),)


def check_response_issuer(profile: OidcProfile, provider_meta: dict[str, Any],
                          iss: str | None) -> None:
    """RFC 9207: a provider that advertises ``authorization_response_iss_parameter_supported``
    names itself in ``iss`` on the redirect, and the client must find its own issuer there
    (mix-up defence: a code from another provider is never sent to this one's token endpoint).
    An ``iss`` is compared whenever it is present, advertised or not."""
    if iss is None:
        if provider_meta.get("authorization_response_iss_parameter_supported") is True:
            raise ProtocolRefused("no iss in the authorization response (RFC 9207)")
        return
    if not hmac.compare_digest(iss.encode(), profile.issuer.encode()):
        raise ProtocolRefused(f"authorization response iss {iss[:200]!r} is not the issuer")


def finish(profile: OidcProfile, code: str, state: str, expected_state: str, nonce: str,
           verifier: str, *, iss: str | None = None) -> Identity:
    """The redirect came back with ``code``, ``state`` and (RFC 9207) ``iss``: exchange,
    verify, return who it is."""
    try:
        if not expected_state or not hmac.compare_digest(state or "", expected_state):
            raise ProtocolRefused("state mismatch")
        if not CODE.fullmatch(code or ""):
            raise ProtocolRefused("malformed authorization code")
        if not nonce or not verifier:
            raise ProtocolRefused("no nonce/verifier in the session")
        provider = _provider(profile)
        check_response_issuer(profile, provider.meta, iss)
        tokens = _token(profile, provider, code, verifier)
        access = tokens.get("access_token") if isinstance(tokens.get("access_token"), str) \
            else None
        claims = verify_id_token(profile, tokens["id_token"], nonce, access)
        if profile.use_userinfo and access:
            info = _userinfo(profile, provider, access)
            if info and info.get("sub") != claims["sub"]:
                raise ProtocolRefused("userinfo sub differs from the ID token's")
            claims = {**info, **claims}
        subject_values = _as_values(claims.get(profile.user_id_claim))
        if not subject_values or not subject_values[0] or len(subject_values[0]) > 255:
            raise ProtocolRefused(f"no usable {profile.user_id_claim!r} claim")
    except (ProtocolRefused, ProviderUnavailable) as exc:
        log.warning("oidc.refused", profile=profile.code, kind=type(exc).__name__,
                    reason=exc.reason)
        raise
    skip = {"nonce", "at_hash", "c_hash", "aud", "azp", "exp", "iat", "auth_time", "iss"}
    attributes = {k: _as_values(v) for k, v in claims.items() if k not in skip}
    log.info("oidc.authenticated", profile=profile.code, subject=subject_values[0])
    session = {"sub": str(claims["sub"]), "id_token": str(tokens["id_token"])}
    if isinstance(claims.get("sid"), str):
        session["sid"] = claims["sid"]
    return Identity(
        method=Method.OIDC,
        profile=profile.code,
        institution=profile.institution,
        subject=subject_values[0],
        attributes={k: v for k, v in attributes.items() if v},
        session=session,
    )


def logout_url(profile: OidcProfile, details: dict[str, str]) -> str | None:
    """RP-initiated logout 1.0: the provider's ``end_session_endpoint`` with ``id_token_hint``,
    ``client_id`` and, when the profile has one, ``post_logout_redirect_uri`` (and a ``state``
    the provider hands back); None when the profile or the provider does not do it."""
    if not profile.single_logout:
        return None
    endpoint = _provider(profile).meta.get("end_session_endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    params = {"client_id": profile.client_id}
    if details.get("id_token"):
        params["id_token_hint"] = details["id_token"]
    if profile.post_logout_redirect_uri:
        params["post_logout_redirect_uri"] = profile.post_logout_redirect_uri
        params["state"] = secrets.token_urlsafe(16)
    sep = "&" if "?" in endpoint else "?"
    return f"{endpoint}{sep}{urlencode(params)}"


class OidcBackend(RedirectDefaults):
    """OpenID Connect: authorization code with PKCE; RP-initiated logout."""

    method: ClassVar[Method] = Method.OIDC
    profile_type: ClassVar[type[Any]] = OidcProfile
    secret_settings: ClassVar[frozenset[str]] = frozenset({"client_secret"})
    endpoints: Mapping[tuple[str, str], Leg] = {
        ("GET", "login"): Leg.START, ("GET", "callback"): Leg.FINISH}
    keeps_pending = False

    def start(self, profile: OidcProfile, next_url: str) -> Started:
        url, state, nonce, verifier = start(profile)
        return Started(url, {"state": state, "nonce": nonce, "verifier": verifier})

    def callback_refusal(self, callback: Mapping[str, str]) -> str | None:
        """The provider said no (the person cancelled, ...)."""
        error = callback.get("error")
        return f"provider error {error[:100]}" if error else None

    def finish(self, profile: OidcProfile, pending: Mapping[str, Any],
               callback: Mapping[str, str]) -> Identity:
        return finish(profile, callback.get("code", ""), callback.get("state", ""),
                      str(pending.get("state") or ""), str(pending.get("nonce") or ""),
                      str(pending.get("verifier") or ""), iss=callback.get("iss"))

    def session_link(self, profile: OidcProfile, identity: Identity) -> SessionLink | None:
        if not profile.single_logout:
            return None
        session = dict(identity.session)
        return SessionLink(profile.institution, self.method.value, profile.code,
                           session.pop("sub", ""), session.get("sid"), session)

    def logout_url(self, profile: OidcProfile, link: SessionLink) -> str | None:
        return logout_url(profile, link.data)
