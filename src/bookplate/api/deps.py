"""Request plumbing shared by the routes: the container, the API key, the body."""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request

from bookplate.api.errors import BodyTooLarge
from bookplate.auth.errors import AuthenticationFailed
from bookplate.auth.services import CSRF_HEADER, SESSION_COOKIE
from bookplate.bootstrap import Container
from bookplate.keys.errors import DailyThreshold, InvalidApiKey
from bookplate.keys.model import ApiKey, Area
from bookplate.roles.model import Actor, Caller
from bookplate.roles.policy import actor_for
from bookplate.users.errors import InvalidParameter
from bookplate.users.validation import has_control


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def api_key_secret(request: Request) -> str | None:
    """``Authorization: apikey K`` or ``?apikey=K`` (SPEC section 2.1)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "apikey" and value.strip():
            return value.strip()
    return request.query_params.get("apikey")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# A percent-escape of a character ``users.validation.has_control`` refuses.
_ESCAPED_CONTROL = re.compile(rb"%(?:0[0-8bcef]|1[0-9a-f]|7f)", re.IGNORECASE)


def check_text_input(request: Request) -> None:
    """The path and every query parameter meet the Users API's text rule: no control
    characters (a NUL cannot even be stored by PostgreSQL). Called by ``caller`` and
    ``require_key``, so every API route checks them before anything else reads them."""
    scope = request.scope
    if has_control(scope["path"]):
        raise InvalidParameter("path")
    if _ESCAPED_CONTROL.search(scope["query_string"]):
        for name, value in request.query_params.multi_items():
            if has_control(name):
                raise InvalidParameter("query string")
            if has_control(value):
                raise InvalidParameter(name)


def caller(request: Request, area: Area, write: bool) -> Caller:
    """Who calls, resolved once per request into the one object the services take
    (``roles.model.Caller``): a staff bearer token or web session (the policy then decides
    each action) or an API key (its area and access are checked here, and the call counted)."""
    check_text_input(request)
    token = bearer_token(request)
    if token is not None:
        actor = container(request).tokens.actor(token)
        if actor is None:
            # 401/401866 as for every failed authentication (docs/authentication.md).
            raise AuthenticationFailed("unknown, revoked or expired staff token, or its "
                                       "staff member is inactive or expired")
        return Caller.staff(actor)
    if api_key_secret(request) is None and request.cookies.get(SESSION_COOKIE):
        actor = session_actor(request)
        if actor is not None:
            return Caller.staff(actor)
    key = _require_key(request, area, write)
    return Caller.integration(key.institution, key.key_id)


def session_actor(request: Request) -> Actor | None:
    """The staff member of a web session (cookie). Anything but GET/HEAD must also send the
    session's CSRF token in ``X-CSRF-Token``; the policy then decides each action."""
    c = container(request)
    info = c.auth.session(request.cookies.get(SESSION_COOKIE))
    if info is None:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), info.session.csrf.encode()):
            raise InvalidApiKey()
    return actor_for(info.user, c.auth.now().date())


def require_key(request: Request, area: Area, write: bool) -> ApiKey:
    """Authenticate, authorise for the area, and count the call against the threshold."""
    check_text_input(request)
    return _require_key(request, area, write)


def _require_key(request: Request, area: Area, write: bool) -> ApiKey:
    keys = container(request).keys
    key = keys.authenticate(api_key_secret(request))
    keys.authorise(key, area, write)
    keys.throttle(key)
    try:
        remaining = keys.spend_daily(key)
    except DailyThreshold:
        request.state.api_remaining = 0  # the header says so on the error too
        raise
    if remaining is not None:
        request.state.api_remaining = remaining  # sent as X-Exl-Api-Remaining (api.sandbox)
    return key


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (without reading on) anything over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def base_url(request: Request) -> str:
    configured = container(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
