"""``/almaws/v1/users``: search, create, read, replace, delete (SPEC section 2.4)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bookplate.alma.schema import user_body_schema
from bookplate.api import deps
from bookplate.api.almaws import linked, params, subpaths
from bookplate.api.errors import PasswordCheckFailed
from bookplate.api.negotiation import JSON, XML, body_is_json, wants_json
from bookplate.api.wire import read_user, user_response, users_response
from bookplate.auth.errors import AuthenticationFailed
from bookplate.keys.model import Area
from bookplate.roles.model import Caller
from bookplate.users.errors import (
    ActionNotSupported,
    InvalidParameter,
    UserNotFound,
)
from bookplate.users.queries import MAX_LIMIT, ORDER_BY, UserSearch, parse_q
from bookplate.users.services import etag, parse_override

router = APIRouter(prefix="/almaws/v1", tags=["Users"])

UserIdPath = Annotated[
    str,
    Path(
        description="Primary ID or any unique identifier (percent-encoded).",
        max_length=255,
        examples=["jdoe42"],
    ),
]
Q = Annotated[str | None, Query()]


# The body is read by the codec, not by FastAPI: its schema comes from the declaration.
EXAMPLE_USER = {
    "record_type": {"value": "PUBLIC"},
    "primary_id": "jdoe43",
    "first_name": "Jane",
    "last_name": "Doe",
    "user_group": {"value": "UNDERGRAD"},
    "expiry_date": "2030-08-30Z",
    "contact_info": {
        "email": [
            {"email_address": "jdoe43@example.edu", "preferred": True,
             "email_type": [{"value": "school"}]}
        ]
    },
    "user_identifier": [{"id_type": {"value": "BARCODE"}, "value": "39000043"}],
}
USER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": user_body_schema(), "example": EXAMPLE_USER},
            "application/xml": {
                "schema": {"type": "string", "description": "<user> per rest_user.xsd"}
            },
        },
    }
}


def _link(request: Request, primary_id: str) -> str:
    return f"{deps.base_url(request)}/almaws/v1/users/{quote(primary_id, safe='')}"


@router.get("/users/operation/test", summary="Check that the API key opens the Users area")
def test_get(request: Request) -> Response:
    deps.require_key(request, Area.USERS, write=False)
    return _test_ok(request)


@router.post("/users/operation/test", summary="Check that the API key may write Users")
def test_post(request: Request) -> Response:
    deps.require_key(request, Area.USERS, write=True)
    return _test_ok(request)


@router.api_route("/users/operation/test", methods=["PUT", "DELETE", "PATCH"],
                  include_in_schema=False)
def test_other_methods(request: Request) -> Response:
    """``operation/test`` is an operation, never a user ID: other methods answer 405."""
    raise StarletteHTTPException(405, "Method Not Allowed", headers={"Allow": "GET, POST"})


def _test_ok(request: Request) -> Response:
    if wants_json(request):
        return Response(b'{"result":"API-key is valid for the Users area."}', 200, media_type=JSON)
    return Response(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b"<test><result>API-key is valid for the Users area.</result></test>",
        200,
        media_type=XML,
    )


@router.get("/users", summary="Retrieve users")
def list_users(  # noqa: PLR0913 - each parameter is one of Alma's query parameters
    request: Request,
    limit: Q = None,
    offset: Q = None,
    q: Q = None,
    order_by: Q = None,
    expand: Q = None,
    modify_date_from: Q = None,
    source_institution_code: Q = None,
    source_user_id: Q = None,
) -> Response:
    caller = deps.caller(request, Area.USERS, write=False)
    c = deps.container(request)
    if source_institution_code or source_user_id:
        found = linked.find(request, caller, source_institution_code, source_user_id)
        if found is not None:
            return users_response([found], 1, c.users.code_book(caller.institution),
                                  wants_json(request), full=expand == "full",
                                  link_for=lambda u: _link(request, u.primary_id))
    if q and q.strip() and modify_date_from and modify_date_from.strip():
        raise InvalidParameter("modify_date_from")
    order = params.choice("order_by", order_by, ORDER_BY, "")
    search = UserSearch(
        institution=caller.institution,
        conditions=parse_q(q or ""),
        modified_from=params.day("modify_date_from", modify_date_from),
        order_by=order or None,
        limit=params.integer("limit", limit, 10, 0, MAX_LIMIT),
        offset=params.integer("offset", offset, 0, 0, 10_000_000),
        source_institution_code=(source_institution_code or None),
        source_user_id=(source_user_id or None),
    )
    full = params.choice("expand", expand, ("none", "full"), "none") == "full"
    result = c.staff.search(caller, search)
    book = c.users.code_book(caller.institution)
    return users_response(
        result.users,
        result.total,
        book,
        wants_json(request),
        full=full,
        link_for=lambda u: _link(request, u.primary_id),
    )


CREATE_USER_PARAMETERS = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in (
            "social_authentication",
            "send_pin_number_letter",
            "source_institution_code",
            "source_user_id",
            "registration_rules",
            "library",
        )
    ]
}


@router.post("/users", summary="Create user", openapi_extra={**USER_BODY, **CREATE_USER_PARAMETERS})
async def create_user(request: Request) -> Response:
    # Query parameters are read directly (documented through ``openapi_extra``), like
    # get_user's: FastAPI's per-parameter validation cost about a tenth of a create's CPU
    # time (docs/benchmarks.md).
    query = request.query_params
    social_authentication = query.get("social_authentication")
    send_pin_number_letter = query.get("send_pin_number_letter")
    source_institution_code = query.get("source_institution_code")
    source_user_id = query.get("source_user_id")
    registration_rules = query.get("registration_rules")
    library = query.get("library")
    caller = deps.caller(request, Area.USERS, write=True)
    c = deps.container(request)
    params.boolean("social_authentication", social_authentication)
    params.boolean("send_pin_number_letter", send_pin_number_letter)
    params.boolean("registration_rules", registration_rules)
    if source_institution_code or source_user_id:
        # A linked account: the body, if any, is not used (docs/networks.md).
        user = await run_in_threadpool(
            linked.link, request, caller, source_institution_code, source_user_id
        )
    else:
        body = await deps.read_body(request, c.settings.max_body_bytes)
        data = read_user(body, body_is_json(request, body))
        user = await run_in_threadpool(c.staff.create, caller, data, library or None)
    book = c.users.code_book(caller.institution)
    response = user_response(user, book, wants_json(request), link=_link(request, user.primary_id))
    response.headers["ETag"] = etag(user)
    return response


GET_USER_PARAMETERS = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("user_id_type", "view", "expand", "source_institution_code")
    ]
}


@router.get("/users/{user_id:path}", summary="Get user details", openapi_extra=GET_USER_PARAMETERS)
async def get_user(request: Request, user_id: UserIdPath) -> Response:
    """The busiest call: its query parameters are read directly (and documented through
    ``openapi_extra``), sparing FastAPI's per-parameter validation (docs/benchmarks.md)."""
    query = request.query_params
    user_id_type = query.get("user_id_type")
    view = query.get("view")
    expand = query.get("expand")
    source_institution_code = query.get("source_institution_code")
    caller = deps.caller(request, Area.USERS, write=False)
    c = deps.container(request)
    id_type = params.id_type(user_id_type)
    chosen_view = params.choice("view", view, ("full", "brief"), "full")
    expanded = params.expand_list(expand, ("loans", "requests", "fees"))
    if source_institution_code:
        user = linked.by_source_link(request, caller, user_id, source_institution_code)
        return user_response(user, c.users.code_book(caller.institution), wants_json(request),
                             view=chosen_view, link=_link(request, user.primary_id),
                             expand=expanded)
    # One indexed read: done on the event loop, which costs less than a hop to a worker thread
    # (measured in docs/benchmarks.md). Searches and writes still go to the thread pool.
    try:
        user = c.staff.get(caller, user_id, id_type)
    except UserNotFound:
        if "/" in user_id:
            subpaths.refuse_unknown_sub_resource(c, caller, user_id, id_type)
        raise
    book = c.users.code_book(caller.institution)
    response = user_response(
        user,
        book,
        wants_json(request),
        view=chosen_view,
        link=_link(request, user.primary_id),
        expand=expanded,
    )
    response.headers["ETag"] = etag(user)  # If-Match on PUT: docs/alma-compatibility.md
    return response


@router.put("/users/{user_id:path}", summary="Update user details", openapi_extra=USER_BODY)
async def put_user(
    request: Request,
    user_id: UserIdPath,
    user_id_type: Q = None,
    override: Q = None,
    send_pin_number_letter: Q = None,
    recalculate_roles: Q = None,
    registration_rules: Q = None,
    library: Q = None,
) -> Response:
    caller = deps.caller(request, Area.USERS, write=True)
    c = deps.container(request)
    id_type = params.id_type(user_id_type)
    overrides = parse_override(override)
    params.boolean("send_pin_number_letter", send_pin_number_letter)
    recalculate = params.boolean("recalculate_roles", recalculate_roles)
    params.boolean("registration_rules", registration_rules)
    if "/" in user_id:
        await run_in_threadpool(subpaths.check_sub_path, c, caller, user_id, id_type, "PUT")
    body = await deps.read_body(request, c.settings.max_body_bytes)
    data = read_user(body, body_is_json(request, body))
    if_match = request.headers.get("if-match")  # absent: last write wins, as in Alma
    user = await run_in_threadpool(
        c.staff.replace,
        caller,
        user_id,
        data,
        id_type=id_type,
        override=overrides,
        recalculate_roles=recalculate,
        scope=library or None,
        if_match=if_match,
    )
    if data.password:  # a password set for the user ends their sessions, as a reset does
        await run_in_threadpool(c.auth.end_user_sessions, caller.institution, user.primary_id)
    book = c.users.code_book(caller.institution)
    response = user_response(user, book, wants_json(request), link=_link(request, user.primary_id))
    response.headers["ETag"] = etag(user)
    return response


@router.delete("/users/{user_id:path}", status_code=204, summary="Delete user")
def delete_user(request: Request, user_id: UserIdPath, user_id_type: Q = None) -> Response:
    caller = deps.caller(request, Area.USERS, write=True)
    c = deps.container(request)
    id_type = params.id_type(user_id_type)
    subpaths.check_sub_path(c, caller, user_id, id_type, "DELETE")
    c.staff.delete(caller, user_id, id_type)
    return Response(status_code=204)


@router.post(
    "/users/{user_id:path}", status_code=204, summary="Authenticate or refresh user"
)
def user_operation(
    request: Request,
    user_id: UserIdPath,
    op: Q = None,
    password: Q = None,
    user_id_type: Q = None,
) -> Response:
    """``op=auth`` checks a password (allowed with read-only keys); ``op=refresh`` brings a
    linked account up to date from its source institution (a write)."""
    c = deps.container(request)
    if op == "refresh":
        refresher = deps.caller(request, Area.USERS, write=True)
        id_type = params.id_type(user_id_type)
        subpaths.check_sub_path(c, refresher, user_id, id_type, "POST")
        linked.refresh(request, refresher, user_id, id_type)
        return Response(status_code=204)
    key = deps.require_key(request, Area.USERS, write=False)
    id_type = params.id_type(user_id_type)
    # POST /users/jdoe/holdings: the unknown sub-path is the error, not its op.
    subpaths.check_sub_path(c, Caller.integration(key.institution, key.key_id), user_id,
                            id_type, "POST")
    if op != "auth":
        raise ActionNotSupported(f"op={op}")
    header = request.headers.get("exl-user-pw")
    secret = unquote(header) if header is not None else password
    try:
        # Lockout applies (auth.services): 15 failures lock the account for 30 minutes.
        c.auth.verify_password(key.institution, user_id, secret or "", id_type)
    except AuthenticationFailed:
        raise PasswordCheckFailed() from None
    return Response(status_code=204)
