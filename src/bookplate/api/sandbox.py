"""What the sandbox adds to the API (docs/sandbox.md): the ``X-Exl-Api-Remaining`` header,
injected latency and errors on ``/almaws`` calls, and ``POST /bookplate/v1/sandbox/reset``.

The header is sent whenever a daily threshold is set and the call was made with an API key;
its value is what ``deps.require_key`` left in the request state. Latency and errors are for
testing how a client copes: a share ``inject_error_rate`` of the calls (drawn from a random
sequence seeded with ``inject_seed``, so a run can be repeated) is answered with Alma's general
error, 500 / 60101, before the route runs.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookplate.api import deps
from bookplate.api.almaws import params
from bookplate.api.errors import NoSuchResource, lookup, tracking_id
from bookplate.api.negotiation import JSON
from bookplate.api.wire import error_response
from bookplate.config import Settings
from bookplate.keys.model import Area
from bookplate.sandbox.population import DEFAULT_SEED, DEFAULT_USERS

REMAINING = b"x-exl-api-remaining"
INJECTED = "General Error: An error has occurred while processing the request. (injected)"


class SandboxMiddleware:
    """Pure ASGI: the remaining-calls header on the way out; latency and errors on the way in."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.latency = settings.inject_latency_ms / 1000
        self.error_rate = settings.inject_error_rate
        self.random = random.Random(settings.inject_seed)  # noqa: S311 - not a secret
        self.sleep = asyncio.sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        almaws = str(scope.get("path", "")).startswith("/almaws/")
        if almaws and self.latency:
            await self.sleep(self.latency)
        if almaws and self.error_rate and self.random.random() < self.error_rate:
            as_json = _asks_json(scope)
            # An injected failure answers as an unexpected server error does (the table's
            # answer for an error it does not know).
            unexpected = lookup(RuntimeError(INJECTED))
            response = error_response(
                unexpected.status, unexpected.code, INJECTED, tracking_id(), as_json
            )
            await response(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start" and "api_remaining" in state:
                headers = list(message.get("headers", []))
                headers.append((REMAINING, str(state["api_remaining"]).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


def _asks_json(scope: Scope) -> bool:
    request = Request(scope)
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt.strip().lower() == "json"
    return "json" in request.headers.get("accept", "").lower()


router = APIRouter(prefix="/bookplate/v1/sandbox", tags=["Sandbox"])


@router.post("/reset", summary="Restore the sandbox institution to its seed state")
async def reset(request: Request) -> Response:
    """Only in sandbox mode (``BOOKPLATE_SANDBOX=true``, set by ``bookplate sandbox``), with a
    key that may write Users; removes every user of the key's institution and seeds the
    population again (``users`` and ``seed`` query parameters, defaults 200 and 19)."""
    c = deps.container(request)
    if not c.settings.sandbox:
        raise NoSuchResource("Not Found: the sandbox is off on this server.")
    key = deps.require_key(request, Area.USERS, write=True)
    query = request.query_params
    count = params.integer("users", query.get("users"), DEFAULT_USERS, 0, 100_000)
    seed = params.integer("seed", query.get("seed"), DEFAULT_SEED, 0, 2**31)
    created = await run_in_threadpool(
        c.sandbox.reset, key.institution, count, seed, key.key_id
    )
    digest = await run_in_threadpool(c.sandbox.digest, key.institution)
    body = f'{{"institution":"{key.institution}","users":{created},"seed":{seed},'
    body += f'"digest":"{digest}"}}'
    return Response(body.encode(), 200, media_type=JSON)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (only when something is asked of it) and the reset route."""
    if settings.daily_threshold or settings.inject_latency_ms or settings.inject_error_rate:
        app.add_middleware(SandboxMiddleware, settings=settings)
    app.include_router(router)
