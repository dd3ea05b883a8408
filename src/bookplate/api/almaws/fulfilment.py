"""``/almaws/v1/users/{id}/loans|requests|resource-sharing-requests|fees|deposits|
purchase-requests``: a user's fulfilment sub-resources.

Bookplate manages people, not circulation: it keeps no loans, requests, fees, deposits or
purchase requests, so every list answers empty in Alma's collection shape (``alma.fulfilment``)
after the user is resolved exactly as ``GET /users/{id}`` resolves it, and after each documented
query parameter is checked (a bad value gets 40166411, as elsewhere). One entry asked for by id
gets Alma's not-found error for that kind; writes get 401859 (docs/alma-compatibility.md).

Mounted before ``almaws.users``, whose ``/users/{user_id:path}`` would otherwise take
``jdoe/loans`` for a user ID.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.alma import fulfilment as shapes
from bookplate.api import deps
from bookplate.api.almaws import params
from bookplate.api.negotiation import JSON, XML, wants_json
from bookplate.bootstrap import Container
from bookplate.keys.model import Area
from bookplate.roles.model import Caller
from bookplate.users.errors import ActionNotSupported, InvalidParameter
from bookplate.users.model import User

router = APIRouter(prefix="/almaws/v1", tags=["Users"])

# Each list's documented parameters: name -> allowed values (None: any text; "int": 0-100 or
# an offset), from the Ex Libris OpenAPI file. Enumerations compare without case.
LIMIT = "limit"
OFFSET = "offset"
PARAMETERS: dict[str, dict[str, tuple[str, ...] | str | None]] = {
    "loans": {
        "limit": LIMIT, "offset": OFFSET,
        "order_by": ("id", "loan_date", "due_date", "barcode", "title", "author", "return_date"),
        "direction": ("ASC", "DESC"), "expand": ("renewable",),
        "loan_status": ("Active", "Complete"),
    },
    "requests": {
        "limit": LIMIT, "offset": OFFSET, "request_type": ("HOLD", "DIGITIZATION", "BOOKING"),
        "status": ("active", "history"),
    },
    "resource-sharing-requests": {"limit": LIMIT, "offset": OFFSET, "status": None},
    "fees": {"status": ("ACTIVE", "INDISPUTE", "EXPORTED", "CLOSED")},
    "deposits": {
        "limit": LIMIT, "offset": OFFSET, "status": None,
        "order_by": ("name", "modification_date"), "direction": ("ASC", "DESC"),
    },
    "purchase-requests": {
        "limit": LIMIT, "offset": OFFSET,
        "status": ("INREVIEW", "APPROVED", "REJECTED", "DEFERRED"),
    },
}


def _check(name: str, raw: str | None, allowed: tuple[str, ...] | str | None) -> None:
    if raw is None or raw.strip() == "" or allowed is None:
        return
    if allowed == LIMIT:
        params.integer(name, raw, 10, 0, 100)
    elif allowed == OFFSET:
        params.integer(name, raw, 0, 0, 10_000_000)
    elif name == "expand":
        for part in raw.split(","):
            if part.strip() and part.strip().lower() not in {a.lower() for a in allowed}:
                raise InvalidParameter(name, raw)
    elif raw.strip().lower() not in {a.lower() for a in allowed}:
        raise InvalidParameter(name, raw)


def _resolve(request: Request, user_id: str, write: bool) -> User:
    """The user behind ``user_id`` as the caller may see it; Alma's not-found codes."""
    who = deps.caller(request, Area.USERS, write=write)
    id_type = params.id_type(request.query_params.get("user_id_type"))
    return _lookup(deps.container(request), who, user_id, id_type)


def _lookup(c: Container, who: Caller, user_id: str, id_type: str) -> User:
    # Not found: 401861 for the default look-up, 401890 for a typed one (the error table).
    return c.staff.get(who, user_id, id_type)


# Each entry's id, named as in the Ex Libris OpenAPI file.
ENTRY_ID = {
    "loans": "loan_id", "requests": "request_id", "resource-sharing-requests": "request_id",
    "fees": "fee_id", "deposits": "deposit_id", "purchase-requests": "purchase_request_id",
}
ITEM_QUERY = {"resource-sharing-requests": ("request_id_type",)}
# The writes Alma documents, each answered 401859: (collection, sub-path after the user,
# method, query parameters). "{entry}" stands for the entry's id.
WRITES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("deposits", "", "POST", ("user_id_type", "draft")),
    ("deposits", "{entry}", "POST", ("op", "user_id_type")),
    ("fees", "", "POST", ()),
    ("fees", "all", "POST", ("user_id_type", "op", "amount", "method", "comment",
                             "external_transaction_id")),
    ("fees", "{entry}", "POST", ("user_id_type", "op", "amount", "method", "reason", "comment",
                                 "external_transaction_id")),
    ("loans", "", "POST", ("item_pid", "user_id_type", "item_barcode", "generate_linked_user")),
    ("loans", "{entry}", "POST", ("user_id_type", "op")),
    ("loans", "{entry}", "PUT", ("notify_user",)),
    ("purchase-requests", "", "POST", ("user_id_type",)),
    ("purchase-requests", "{entry}", "POST", ("op",)),
    ("requests", "", "POST", ("user_id_type", "mms_id", "item_pid", "allow_same_request")),
    ("requests", "{entry}", "DELETE", ("reason", "note", "notify_user")),
    ("requests", "{entry}", "POST", ("op", "release_item")),
    ("requests", "{entry}", "PUT", ()),
    ("resource-sharing-requests", "", "POST", ("user_id_type", "override_blocks")),
    ("resource-sharing-requests", "{entry}", "DELETE", ("remove_request", "reason", "note",
                                                         "notify_user")),
    ("resource-sharing-requests", "{entry}", "POST", ("request_id_type", "op", "shipping_cost",
                                                       "fund_code")),
)


def _openapi(path_names: tuple[str, ...], query_names: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of an operation whose handler reads them from the request itself."""
    listed = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in path_names
    ] + [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
        for n in query_names
    ]
    return {"parameters": listed}


def _list_route(collection: shapes.Collection) -> Callable[[Request], Response]:
    allowed = PARAMETERS[collection.path]

    def list_entries(request: Request) -> Response:
        query = request.query_params
        for name, values in allowed.items():
            _check(name, query.get(name), values)
        _resolve(request, request.path_params["user_id"], write=False)
        if wants_json(request):
            return Response(shapes.empty_json(collection), 200, media_type=JSON)
        return Response(shapes.empty_xml(collection), 200, media_type=XML)

    return list_entries


def _item_route(collection: shapes.Collection) -> Callable[[Request], Response]:
    def get_entry(request: Request) -> Response:
        _resolve(request, request.path_params["user_id"], write=False)
        shown = str(request.path_params[ENTRY_ID[collection.path]])[:100]
        raise shapes.FulfilmentEntryNotFound(collection, shown)

    return get_entry


def _write_route(collection: shapes.Collection) -> Callable[[Request], Response]:
    def write_entry(request: Request) -> Response:
        _resolve(request, request.path_params["user_id"], write=True)
        raise ActionNotSupported(
            f"Bookplate keeps no {collection.noun}s "
            f"(the {collection.path} of a user are always empty)"
        )

    return write_entry


def _name(*parts: str) -> str:
    return "_".join(p.replace("-", "_").strip("{}") for p in parts if p)


for _c in shapes.COLLECTIONS:
    _title = _c.path.replace("-", " ")
    _entry = ENTRY_ID[_c.path]
    _base = f"/users/{{user_id:path}}/{_c.path}"
    router.add_api_route(
        _base, _list_route(_c), methods=["GET"], operation_id=_name("list_user", _c.path),
        summary=f"Retrieve user {_title} (always empty)",
        openapi_extra=_openapi(("user_id",), ("user_id_type", *PARAMETERS[_c.path])),
    )
    router.add_api_route(
        f"{_base}/{{{_entry}}}", _item_route(_c), methods=["GET"],
        operation_id=_name("get_user", _c.path, "entry"),
        summary=f"Retrieve one of a user's {_title} (none exist)",
        openapi_extra=_openapi(
            ("user_id", _entry), ITEM_QUERY.get(_c.path, ("user_id_type",))
        ),
    )

for _path, _sub, _method, _query in WRITES:
    _col = shapes.BY_PATH[_path]
    _entry = ENTRY_ID[_path]
    _tail = {"": "", "{entry}": f"/{{{_entry}}}"}.get(_sub, f"/{_sub}")
    router.add_api_route(
        f"/users/{{user_id:path}}/{_path}{_tail}", _write_route(_col), methods=[_method],
        operation_id=_name(_method.lower(), "user", _path, _sub.replace("{entry}", "entry")),
        summary=f"{_method} on a user's {_path.replace('-', ' ')} (not supported)",
        openapi_extra=_openapi(("user_id", *([_entry] if _sub == "{entry}" else [])), _query),
    )

