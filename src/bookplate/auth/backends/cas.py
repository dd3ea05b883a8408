"""CAS 2.0 / 3.0: send the browser to the CAS login, then validate the service ticket it brings.

``login_url(profile, service)`` builds the redirect; ``validate(profile, service, ticket)``
asks the CAS server (``/serviceValidate`` for 2.0, ``/p3/serviceValidate`` for 3.0, which adds
attributes) and returns an :class:`Identity`. The service URL must start with one of the
profile's ``allowed_services`` (no open redirect through ``service``), the ticket must look
like a service ticket, and the answer is read with defusedxml (no DTD, no entities), capped
in size. Every refusal is an ``AuthenticationFailed`` whose reason goes to the log only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit

import httpx2
import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bookplate.auth.backends.base import RedirectDefaults
from bookplate.auth.errors import ProfileInvalid, ProtocolRefused, ProviderUnavailable
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.auth.ports import Leg, ProviderLogout, SessionLink, Started

log = structlog.get_logger("bookplate.auth.cas")

CAS_NS = "{http://www.yale.edu/tp/cas}"
#: CAS protocol 3.0 §3.7: tickets are up to 256 characters, service tickets start with "ST-".
TICKET = re.compile(r"ST-[A-Za-z0-9._\-]{1,253}")
MAX_RESPONSE = 256 * 1024
MAX_SERVICE = 2048


@dataclass(frozen=True, slots=True)
class CasProfile:
    institution: str
    code: str
    #: Base URL of the CAS server, e.g. ``https://cas.example.org/cas/``.
    server_url: str
    #: Service URLs Bookplate may ask tickets for (prefix match, scheme+host+path).
    allowed_services: tuple[str, ...]
    version: Literal[2, 3] = 3
    timeout_s: float = 10.0
    mapping: UserMapping = field(default_factory=UserMapping)
    #: Single logout: sign-out sends the browser to the server's ``/logout``, and the
    #: server's back-channel ``logoutRequest`` (POSTed to the callback) ends the session.
    single_logout: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.server_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProfileInvalid("server_url must be an http(s) URL.")
        if not self.server_url.endswith("/"):
            object.__setattr__(self, "server_url", self.server_url + "/")
        if self.version not in (2, 3):
            raise ProfileInvalid("CAS version is 2 or 3.")
        if not self.allowed_services:
            raise ProfileInvalid("A CAS profile needs at least one allowed service URL.")
        for prefix in self.allowed_services:
            p = urlsplit(prefix)
            if p.scheme not in ("http", "https") or not p.netloc:
                raise ProfileInvalid(f"Allowed service {prefix!r} is not an http(s) URL.")


def _service_allowed(profile: CasProfile, service: str) -> bool:
    if not service or len(service) > MAX_SERVICE or any(ord(c) < 33 for c in service):
        return False
    s = urlsplit(service)
    if s.scheme not in ("http", "https") or not s.netloc or "@" in s.netloc:
        return False
    for prefix in profile.allowed_services:
        p = urlsplit(prefix)
        if (s.scheme, s.netloc.lower()) == (p.scheme, p.netloc.lower()) and s.path.startswith(
            p.path
        ):
            return True
    return False


def login_url(profile: CasProfile, service: str) -> str:
    """Where to send the browser; refuses a service URL outside the profile's allowed list."""
    if not _service_allowed(profile, service):
        log.warning("cas.service_refused", profile=profile.code, service=service[:200])
        raise ProtocolRefused("service URL not allowed")
    return f"{profile.server_url}login?{urlencode({'service': service})}"


def _fetch(profile: CasProfile, service: str, ticket: str, client: httpx2.Client | None) -> bytes:
    path = "p3/serviceValidate" if profile.version == 3 else "serviceValidate"
    url = profile.server_url + path
    own = client is None
    http = client or httpx2.Client(timeout=profile.timeout_s, follow_redirects=False)
    try:
        with http.stream("GET", url, params={"service": service, "ticket": ticket}) as resp:
            if resp.status_code != 200:
                raise ProviderUnavailable(f"CAS answered HTTP {resp.status_code}")
            body = bytearray()
            for chunk in resp.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_RESPONSE:
                    raise ProtocolRefused("CAS response too large")
            return bytes(body)
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(f"CAS unreachable: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            http.close()


def _text(element: Any) -> str:
    return "".join(element.itertext()).strip()


def parse_response(profile: CasProfile, body: bytes) -> Identity:
    """Read a ``cas:serviceResponse`` document; raise ProtocolRefused unless it is a success."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise ProtocolRefused(f"unreadable CAS response: {type(exc).__name__}: {exc}") from exc
    if root.tag != f"{CAS_NS}serviceResponse":
        raise ProtocolRefused(f"not a CAS serviceResponse: {root.tag[:100]}")
    failure = root.find(f"{CAS_NS}authenticationFailure")
    if failure is not None:
        raise ProtocolRefused(f"CAS refused: {failure.get('code')}: {_text(failure)[:300]}")
    successes = root.findall(f"{CAS_NS}authenticationSuccess")
    if len(successes) != 1:
        raise ProtocolRefused("CAS response has no single authenticationSuccess")
    success = successes[0]
    users = success.findall(f"{CAS_NS}user")
    if len(users) != 1 or not _text(users[0]) or len(_text(users[0])) > 255:
        raise ProtocolRefused("CAS response has no single, sane cas:user")
    attributes: dict[str, list[str]] = {}
    attrs = success.find(f"{CAS_NS}attributes")
    if attrs is not None:
        for child in attrs:
            if not isinstance(child.tag, str) or not child.tag.startswith(CAS_NS):
                continue
            attributes.setdefault(child.tag[len(CAS_NS):], []).append(_text(child))
    return Identity(
        method=Method.CAS,
        profile=profile.code,
        institution=profile.institution,
        subject=_text(users[0]),
        attributes={k: tuple(v) for k, v in attributes.items()},
    )


def validate(
    profile: CasProfile, service: str, ticket: str, *, client: httpx2.Client | None = None
) -> Identity:
    """Validate ``ticket`` for ``service`` with the CAS server; AuthenticationFailed if not."""
    try:
        if not _service_allowed(profile, service):
            raise ProtocolRefused("service URL not allowed")
        if not TICKET.fullmatch(ticket or ""):
            raise ProtocolRefused("not a service ticket")
        identity = parse_response(profile, _fetch(profile, service, ticket, client))
    except (ProtocolRefused, ProviderUnavailable) as exc:
        log.warning("cas.refused", profile=profile.code, kind=type(exc).__name__,
                    reason=exc.reason, ticket=(ticket or "")[:40])
        raise
    log.info("cas.authenticated", profile=profile.code, subject=identity.subject)
    return identity


def logout_url(profile: CasProfile, come_back_to: str | None) -> str | None:
    """Where sign-out sends the browser (CAS 3.0 section 2.3: ``/logout``, with ``service``
    where the server may send it afterwards); None unless the profile does single logout."""
    if not profile.single_logout:
        return None
    query = f"?{urlencode({'service': come_back_to})}" if come_back_to else ""
    return f"{profile.server_url}logout{query}"


SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
MAX_LOGOUT_REQUEST = 16 * 1024


def logout_request_ticket(body: str) -> str:
    """The service ticket a CAS server's back-channel ``logoutRequest`` (CAS 3.0 appendix C: a
    SAML ``LogoutRequest`` whose ``SessionIndex`` is the ticket) names."""
    if not body or len(body) > MAX_LOGOUT_REQUEST:
        raise ProtocolRefused("logoutRequest missing or too large")
    try:
        root = fromstring(body.encode(), forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise ProtocolRefused(f"unreadable logoutRequest: {type(exc).__name__}") from exc
    if root.tag != f"{SAMLP}LogoutRequest":
        raise ProtocolRefused(f"not a LogoutRequest: {str(root.tag)[:100]}")
    indexes = root.findall(f"{SAMLP}SessionIndex")
    ticket = _text(indexes[0]) if len(indexes) == 1 else ""
    if not TICKET.fullmatch(ticket):
        raise ProtocolRefused("logoutRequest without a single service ticket")
    return ticket



def _ticket_hash(ticket: str) -> str:
    # a session link keeps the service ticket only as a hash
    return hashlib.sha256(ticket.encode()).hexdigest()


class CasBackend(RedirectDefaults):
    """CAS: the service URL is our callback with a state of the browser's own; the server's
    back-channel logoutRequest is POSTed to the same callback."""

    method: ClassVar[Method] = Method.CAS
    profile_type: ClassVar[type[Any]] = CasProfile
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    endpoints: Mapping[tuple[str, str], Leg] = {
        ("GET", "login"): Leg.START, ("GET", "callback"): Leg.FINISH,
        ("POST", "callback"): Leg.BACKCHANNEL}
    keeps_pending = False

    def service(self, code: str, state: str | None = None) -> str:
        """The service URL: our callback, with the browser's ``state`` when given."""
        if self.context.public_url is None:
            raise ProtocolRefused("public_url is not configured (CAS service URL)")
        base = f"{self.context.public_url}/auth/cas/{code}/callback"
        return f"{base}?{urlencode({'state': state})}" if state else base

    def start(self, profile: CasProfile, next_url: str) -> Started:
        """CAS has no state parameter of its own: a random one rides in the service URL, is
        kept with the browser's pending sign-in and must come back with the ticket, so a
        ticket minted for one browser cannot be planted in another (login CSRF)."""
        state = secrets.token_urlsafe(32)
        return Started(login_url(profile, self.service(profile.code, state)), {"state": state})

    def finish(self, profile: CasProfile, pending: Mapping[str, Any],
               callback: Mapping[str, str]) -> Identity:
        expected = str(pending.get("state") or "")
        state = callback.get("state", "")
        if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            raise ProtocolRefused("CAS state differs from this browser's sign-in")
        ticket = callback.get("ticket", "")
        identity = validate(profile, self.service(profile.code, expected), ticket)
        return dataclasses.replace(identity, session={"ticket_hash": _ticket_hash(ticket)})

    def session_link(self, profile: CasProfile, identity: Identity) -> SessionLink | None:
        if not profile.single_logout:
            return None
        return SessionLink(profile.institution, self.method.value, profile.code,
                           identity.subject, identity.session.get("ticket_hash"), {})

    def logout_url(self, profile: CasProfile, link: SessionLink) -> str | None:
        public = self.context.public_url
        return logout_url(profile, f"{public}/auth/login" if public else None)

    def provider_logout(self, profile: CasProfile, message: Mapping[str, str]
                        ) -> ProviderLogout:
        """A CAS server's back-channel logoutRequest: end the session of that ticket."""
        if not profile.single_logout:
            raise ProtocolRefused("the profile has no single logout")
        ticket = logout_request_ticket(message.get("logoutRequest", ""))
        return ProviderLogout(True, None, (_ticket_hash(ticket),))
