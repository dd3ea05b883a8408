"""Authentication on the API: the staff login report, the caller's own record (``users/ME``),
discovery JWTs (``/primo/v1/userJwt``) and their keys (``/auth/{institution}/jwks.json``).

This router is mounted before ``almaws.users`` so that ``/users/ME`` and
``/users/staff-login-report`` are not taken for user IDs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Path, Query, Request
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bookplate.alma import json as alma_json
from bookplate.alma import xml as alma_xml
from bookplate.api import deps
from bookplate.api.almaws import params
from bookplate.api.errors import InstitutionNotFound, UnreadableJson
from bookplate.api.negotiation import JSON, XML, wants_json
from bookplate.api.wire import user_response
from bookplate.auth.errors import AuthenticationFailed
from bookplate.auth.ports import LoginEvent
from bookplate.auth.services import SESSION_COOKIE, may_sign_in
from bookplate.auth.staff_tokens import TOKEN_PREFIX
from bookplate.keys.model import Area
from bookplate.users.errors import InvalidParameter, MandatoryFieldMissing, UserNotFound
from bookplate.users.model import User
from bookplate.users.ports import PRIMARY_ID
from bookplate.users.validation import has_control

router = APIRouter(tags=["Authentication"])
Q = Annotated[str | None, Query()]
MAX_JWT_BODY = 16_384


def _link(request: Request, primary_id: str) -> str:
    return f"{deps.base_url(request)}/almaws/v1/users/{quote(primary_id, safe='')}"


# -- staff login report ----------------------------------------------------------------------

def _event_dict(event: LoginEvent) -> dict[str, Any]:
    return {
        "user_name": event.login_name,
        "primary_id": event.primary_id or "",
        "login_date": event.at.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{event.at.microsecond // 1000:03d}Z",
        "successful": event.success,
        "login_method": event.method,
        "ip_address": event.address or "",
    }


@router.get(
    "/almaws/v1/users/staff-login-report",
    summary="Retrieve Staff Login Report",
    tags=["Users"],
)
def staff_login_report(
    request: Request,
    login_date_from: Q = None,
    login_date_to: Q = None,
    successful: Q = None,
    limit: Q = None,
    offset: Q = None,
) -> Response:
    """Sign-in attempts of staff members (SPEC section 2.4), newest first. Needs an API key
    with the Users area (read access is enough)."""
    key = deps.require_key(request, Area.USERS, write=False)
    c = deps.container(request)
    start = params.day("login_date_from", login_date_from)
    end = params.day("login_date_to", login_date_to)
    which = params.choice("successful", successful, ("true", "all", "failed-login-attempts"),
                          "true")
    size = params.integer("limit", limit, 10, 0, 100)
    skip = params.integer("offset", offset, 0, 0, 10_000_000)
    only = {"true": True, "all": None, "failed-login-attempts": False}[which]
    events, total = c.auth.login_report(key.institution, start, end, only, size, skip)
    entries = [_event_dict(e) for e in events]
    if wants_json(request):
        body = {"login_event": entries, "total_record_count": total}
        return Response(alma_json.dump_json(body), 200, media_type=JSON)
    root = etree.Element("login_events")
    root.set("total_record_count", str(total))
    for entry in entries:
        node = etree.SubElement(root, "login_event")
        for name, value in entry.items():
            child = etree.SubElement(node, name)
            child.text = str(value).lower() if isinstance(value, bool) else str(value)
    return Response(alma_xml.to_bytes(root), 200, media_type=XML)


# -- the caller's own record --------------------------------------------------------------------

def _me(request: Request) -> User:
    c = deps.container(request)
    token = deps.bearer_token(request)
    if token is not None and token.startswith(TOKEN_PREFIX):
        actor = c.tokens.actor(token)
        if actor is None:
            raise AuthenticationFailed("unknown or revoked staff token")
        return c.users.get(actor.institution, actor.primary_id, PRIMARY_ID)
    if token is not None:
        institution = None
        if deps.api_key_secret(request) is not None:
            institution = deps.require_key(request, Area.USERS, write=False).institution
        claims = c.discovery.verify(token, institution)
        try:
            user = c.users.get(claims.institution, claims.user_name, PRIMARY_ID)
        except UserNotFound:
            raise AuthenticationFailed("the token's patron no longer exists") from None
        refusal = may_sign_in(user, c.auth.now().date())
        if refusal is not None:
            raise AuthenticationFailed(refusal)
        return user
    info = c.auth.session(request.cookies.get(SESSION_COOKIE))
    if info is None:
        raise AuthenticationFailed("no bearer token and no session")
    return info.user


@router.get("/almaws/v1/users/ME", summary="Get my details", tags=["Users"])
def get_me(request: Request) -> Response:
    """The signed-in patron's own record: ``Authorization: Bearer <discovery JWT>`` (with or
    without an API key of the same institution), a staff token, or a web session."""
    user = _me(request)
    c = deps.container(request)
    book = c.users.code_book(user.institution)
    return user_response(user, book, wants_json(request), link=_link(request, user.primary_id))


# -- discovery tokens --------------------------------------------------------------------------

def _text(body: dict[str, Any], name: str, limit: int = 255) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or has_control(value):
        raise InvalidParameter(name)
    return value


@router.post("/primo/v1/userJwt", summary="Issue a discovery JWT for a patron")
async def user_jwt(request: Request) -> Response:
    """Body ``{viewId, institution, language, userName, userGroup, onCampus}``. The caller is
    a discovery system holding an API key with the Users area (it has authenticated the
    patron itself, as Primo does for Alma), or the patron's own web session. An
    ``Exl-User-Pw`` header, when sent, is checked as the patron's password (lockout
    applies). Answers the token as a JSON string."""
    c = deps.container(request)
    raw = await deps.read_body(request, MAX_JWT_BODY)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UnreadableJson() from None
    if not isinstance(body, dict):
        raise UnreadableJson()
    user_name = _text(body, "userName")
    institution = _text(body, "institution", 64)
    view_id = _text(body, "viewId")
    language = _text(body, "language", 16)
    on_campus = body.get("onCampus", False)
    if isinstance(on_campus, str):
        on_campus = on_campus.strip().lower() == "true"
    if not isinstance(on_campus, bool):
        raise InvalidParameter("onCampus")
    if deps.api_key_secret(request) is not None:
        key = deps.require_key(request, Area.USERS, write=False)
        if institution is not None and institution != key.institution:
            raise InvalidParameter("institution")
        if user_name is None:
            raise MandatoryFieldMissing("userName")
        header = request.headers.get("exl-user-pw")
        if header is not None:
            user = await run_in_threadpool(c.auth.verify_password, key.institution, user_name,
                                           unquote(header))
        else:
            user = c.users.get(key.institution, user_name)
    else:
        info = c.auth.session(request.cookies.get(SESSION_COOKIE))
        if info is None:
            raise AuthenticationFailed("userJwt without API key or session")
        user = info.user
        if institution is not None and institution != user.institution:
            raise InvalidParameter("institution")
        if user_name is not None and user_name.casefold() != user.primary_id.casefold():
            raise AuthenticationFailed("session user differs from userName")
    refusal = may_sign_in(user, c.auth.now().date())
    if refusal is not None:
        raise AuthenticationFailed(refusal)
    token = await run_in_threadpool(c.discovery.issue, user, view_id=view_id,
                                    language=language, on_campus=on_campus)
    return JSONResponse(token)


InstitutionPath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/auth/{institution}/jwks.json", summary="Public keys of discovery JWTs (JWKS)",
            responses={404: {"description": "No such institution"}})
def jwks(request: Request, institution: InstitutionPath) -> Response:
    """The key set of a known institution (empty until its first JWT); an unknown one is 404,
    so a typo in a verifier's configuration is not read as "no keys yet"."""
    c = deps.container(request)
    with c.uow_factory() as uow:
        known = uow.institutions.get(institution) is not None
    if not known:
        raise InstitutionNotFound(institution)
    return JSONResponse(c.discovery.jwks(institution),
                        headers={"Cache-Control": "public, max-age=300"})
