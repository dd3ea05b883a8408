"""Choosing JSON or XML, as Alma does: XML unless ``format=json`` or ``Accept`` asks for JSON."""

from __future__ import annotations

from starlette.requests import Request

JSON = "application/json"
XML = "application/xml"


def wants_json(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt.strip().lower() == "json"
    if request.url.path.startswith("/bookplate/"):
        return True  # Bookplate's own API speaks JSON
    accept = request.headers.get("accept", "").lower()
    if "json" not in accept:
        return False
    if "xml" not in accept:
        return True
    return accept.index("json") < accept.index("xml")


def body_is_json(request: Request, body: bytes) -> bool:
    """The request body's format: from Content-Type, else from its first character."""
    ctype = request.headers.get("content-type", "").lower()
    if "json" in ctype:
        return True
    if "xml" in ctype:
        return False
    return body.lstrip()[:1] in (b"{", b"[")
