"""Security headers on every response: the Alma API, ``/bookplate/v1``, the sign-in pages, the
OpenAPI pages, and error answers, 500s included (the middleware wraps the whole application,
outside the handler that writes a crash's Alma error body).

* ``X-Content-Type-Options: nosniff``: a browser never guesses HTML out of a JSON or XML body.
* ``Referrer-Policy: no-referrer``: no page, least of all the password-reset page whose URL
  holds the one-time token, tells another site where the browser came from.
* ``X-Frame-Options: DENY`` and, on anything that is not an HTML page, the strictest
  ``Content-Security-Policy`` (nothing loads, nothing frames it). HTML pages keep the policy
  their route sets (the sign-in pages allow their own inline styles; the OpenAPI page loads its
  viewer); a route's own value is never replaced.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
DEFAULTS = {
    "x-frame-options": "DENY",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    """Pure ASGI middleware (no buffering: streamed bodies stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                for name, value in DEFAULTS.items():
                    if name not in headers:
                        headers[name] = value
                content_type = headers.get("content-type", "")
                if "content-security-policy" not in headers and \
                        not content_type.startswith("text/html"):
                    headers["content-security-policy"] = API_CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)
