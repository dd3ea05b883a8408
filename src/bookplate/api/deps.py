"""Request plumbing shared by the routes: the container, the API key, the body."""

from __future__ import annotations

from starlette.requests import Request

from bookplate.api.errors import BodyTooLarge
from bookplate.bootstrap import Container
from bookplate.keys.model import ApiKey, Area


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


def require_key(request: Request, area: Area, write: bool) -> ApiKey:
    """Authenticate, authorise for the area, and count the call against the threshold."""
    keys = container(request).keys
    key = keys.authenticate(api_key_secret(request))
    keys.authorise(key, area, write)
    keys.throttle(key)
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
