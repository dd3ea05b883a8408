"""Discovery tokens: RS256 JWTs for patrons (Primo's ``userJwt``), keys published as JWKS.

Keys live in the database (``AuthStore.signing_keys``) so every process signs and verifies
with the same ones; ``rotate`` makes a new active key and keeps the previous one published
until every token it signed has expired. joserfc (authlib's JOSE library) does the crypto;
only RS256 is accepted, so ``alg=none`` and HMAC-with-the-public-key tricks are refused.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet, RSAKey
from joserfc.jws import extract_compact

from bookplate.auth.errors import TokenRejected
from bookplate.auth.ports import AuthStore, SigningKey
from bookplate.users.model import User

log = structlog.get_logger("bookplate.auth")

ALGORITHM = "RS256"
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30


def issuer(institution: str) -> str:
    return f"urn:bookplate:{institution}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PatronClaims:
    institution: str
    user_name: str  # the patron's primary ID
    user_group: str | None
    view_id: str | None
    language: str | None
    on_campus: bool
    expires: int


@dataclass(frozen=True, slots=True)
class _Keys:
    loaded: float
    active: RSAKey | None
    public: KeySet
    kids: frozenset[str]


class DiscoveryTokens:
    def __init__(
        self,
        store: AuthStore,
        *,
        ttl_seconds: int = 3600,
        cache_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, _Keys] = {}

    # -- keys ----------------------------------------------------------------------------------
    def rotate(self, institution: str) -> str:
        """A new active signing key; the previous one is retired but stays published for
        ``ttl_seconds`` (so tokens it signed keep verifying); older retired keys go."""
        kid = f"{institution}-{secrets.token_hex(6)}"
        key = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        pem = key.as_pem(private=True)
        now = self._clock()
        self._store.add_signing_key(
            SigningKey(kid, institution, pem.decode("ascii"), now),
            retire_before=now - timedelta(seconds=self.ttl_seconds + LEEWAY_SECONDS),
        )
        self._cache.pop(institution, None)
        log.info("signing_key_rotated", institution=institution, kid=kid)
        return kid

    def _load(self, institution: str, *, fresh: bool = False) -> _Keys:
        cached = self._cache.get(institution)
        now = time.monotonic()
        if cached is not None and not fresh and now - cached.loaded < self._cache_seconds:
            return cached
        limit = self._clock() - timedelta(seconds=self.ttl_seconds + LEEWAY_SECONDS)
        active: RSAKey | None = None
        public: list[Key] = []
        for row in self._store.signing_keys(institution):
            if row.retired_at is not None and row.retired_at < limit:
                continue
            private = RSAKey.import_key(row.private_pem, parameters={"kid": row.kid})
            if row.retired_at is None and active is None:
                active = private
            public.append(RSAKey.import_key(private.as_dict(private=False)))
        keys = _Keys(now, active, KeySet(public), frozenset(k.kid or "" for k in public))
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[institution] = keys
        return keys

    def jwks(self, institution: str) -> dict[str, Any]:
        keys = self._load(institution)
        out = []
        for key in keys.public.keys:
            jwk = dict(key.as_dict(private=False))
            jwk.update({"use": "sig", "alg": ALGORITHM})
            out.append(jwk)
        return {"keys": out}

    # -- tokens --------------------------------------------------------------------------------
    def issue(self, user: User, *, view_id: str | None = None, language: str | None = None,
              on_campus: bool = False) -> str:
        keys = self._load(user.institution)
        if keys.active is None:
            self.rotate(user.institution)
            keys = self._load(user.institution, fresh=True)
        assert keys.active is not None
        now = int(self._clock().timestamp())
        claims = {
            "iss": issuer(user.institution),
            "sub": user.primary_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_hex(12),
            "institution": user.institution,
            "userName": user.primary_id,
            "userGroup": user.user_group or "",
            "viewId": view_id or "",
            "language": language or "",
            "onCampus": bool(on_campus),
        }
        header = {"alg": ALGORITHM, "kid": keys.active.kid, "typ": "JWT"}
        return jwt.encode(header, claims, keys.active, algorithms=[ALGORITHM])

    def verify(self, token: str, institution: str | None = None) -> PatronClaims:
        """The patron a token speaks for. ``institution``: the caller's (API key's)
        institution, when known; a token of another institution is refused."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenRejected("empty or over-long token")
        try:
            compact = extract_compact(token.encode("ascii"))
            header = compact.headers()
            unverified = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError, TypeError) as exc:
            raise TokenRejected(f"malformed token: {type(exc).__name__}") from None
        if header.get("alg") != ALGORITHM:
            raise TokenRejected(f"algorithm {header.get('alg')!r} refused")
        claimed = unverified.get("institution") if isinstance(unverified, dict) else None
        if not isinstance(claimed, str) or not claimed or len(claimed) > 64:
            raise TokenRejected("no institution claim")
        if institution is not None and claimed != institution:
            raise TokenRejected("token of another institution")
        keys = self._load(claimed)
        if header.get("kid") not in keys.kids:
            keys = self._load(claimed, fresh=True)  # a key rotated in another process
        if header.get("kid") not in keys.kids:
            raise TokenRejected("unknown signing key")
        try:
            verified = jwt.decode(token, keys.public, algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                now=int(self._clock().timestamp()),
                leeway=LEEWAY_SECONDS,
                exp={"essential": True},
                iat={"essential": True},
                iss={"essential": True, "value": issuer(claimed)},
                sub={"essential": True},
            )
            registry.validate(verified.claims)
        except JoseError as exc:
            raise TokenRejected(f"invalid token: {type(exc).__name__}: {exc}") from None
        c = verified.claims
        if c.get("institution") != claimed or not isinstance(c.get("sub"), str):
            raise TokenRejected("claims do not match")
        return PatronClaims(
            institution=claimed,
            user_name=c["sub"],
            user_group=c.get("userGroup") or None,
            view_id=c.get("viewId") or None,
            language=c.get("language") or None,
            on_campus=bool(c.get("onCampus")),
            expires=int(c["exp"]),
        )
