"""``/staff/users?q=``: find users with the search the API uses (``users.queries``).

One box finds by name (the start of any first, middle or last name, case- and
accent-insensitive), e-mail, primary ID or any identifier. A text that is exactly one user's
primary ID or identifier (a barcode scan) opens that user, unless names match too: then the
list shows, that user first. Filters: record type (tabs), status, user group, account type,
expiry; sorting and paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from bookplate.roles.model import Privilege
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.users.queries import ORDER_BY, UserSearch, box_conditions
from bookplate.web.staff.common import Refused, Staff, describe, render, see_other, user_url
from bookplate.web.staff.pages import get_page, holds

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
MAX_OFFSET = 10_000
KINDS = {"all": None, "public": "PUBLIC", "staff": "STAFF", "contact": "CONTACT"}
STATUSES = ("ACTIVE", "INACTIVE")
ACCOUNTS = ("INTERNAL", "EXTERNAL")
EXPIRY = ("", "current", "expired")


@dataclass(frozen=True)
class Query:
    q: str
    kind: str
    status: str
    group: str
    account: str
    expiry: str
    sort: str
    page: int

    def link(self, **changes: Any) -> str:
        values = {**self.__dict__, **changes}
        kept = {k: v for k, v in values.items() if v not in ("", None, "all", 1) or k == "q"}
        return "/staff/users?" + urlencode(kept)


def _choice(params: QueryParams, name: str, allowed: tuple[str, ...] | dict[str, Any],
            default: str = "") -> str:
    value = params.get(name, default).strip()
    if value not in allowed:
        raise Refused(400, f"The parameter {name} is invalid.")
    return value


def read_query(params: QueryParams, groups: dict[str, str]) -> Query:
    q = params.get("q", "").strip()
    if len(q) > 200 or "\x00" in q:
        raise Refused(400, "The search text is too long or holds invalid characters.")
    raw_page = params.get("page", "1").strip()
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_OFFSET // PAGE_SIZE:
        raise Refused(400, "The parameter page is invalid.")
    return Query(
        q=q,
        kind=_choice(params, "kind", KINDS, "all"),
        status=_choice(params, "status", ("", *STATUSES)),
        group=_choice(params, "group", {"": "", **groups}),
        account=_choice(params, "account", ("", *ACCOUNTS)),
        expiry=_choice(params, "expiry", EXPIRY),
        sort=_choice(params, "sort", ("", *ORDER_BY)),
        page=int(raw_page),
    )


def _exact(staff: Staff, text: str) -> User | None:
    """The user whose primary ID or identifier is exactly ``text`` (IDs are unique)."""
    if not text or len(text) > 200:
        return None
    try:
        return staff.c.staff.get(staff.actor, text)
    except UserNotFound:
        return None


@get_page(router, "/staff/users", holds(Privilege.VIEW_USERS))
def find_users(staff: Staff, request: Request) -> Response:
    book = staff.book()
    groups = dict(book.tables.get("UserGroups", {}))
    query = read_query(request.query_params, groups)
    today = staff.today
    search = UserSearch(
        staff.institution,
        conditions=box_conditions(query.q),
        order_by=query.sort or None,
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
        record_type=KINDS[query.kind],
        status=query.status or None,
        user_group=query.group or None,
        account_type=query.account or None,
        expires_before=today if query.expiry == "expired" else None,
        expires_from=today if query.expiry == "current" else None,
    )
    exact = _exact(staff, query.q) if query.q else None
    searched = bool(search.conditions) or not query.q
    result = staff.c.staff.search(staff.actor, search) if searched else None
    users = list(result.users) if result else []
    total = result.total if result else 0
    if exact is not None:
        others = [u for u in users if u.primary_id != exact.primary_id]
        if not others and total <= 1 and query.page == 1:
            return see_other(user_url(exact.primary_id))  # a scan opens the user
        if query.page == 1:
            users = [exact, *others][:PAGE_SIZE]
    pages = max(1, -(-total // PAGE_SIZE))
    return render(staff, request, "staff/users.html", {
        "query": query, "q": query.q, "users": users, "total": total, "pages": pages,
        "book": book, "describe": describe, "groups": groups, "kinds": KINDS,
        "statuses": STATUSES, "accounts": ACCOUNTS, "today": today,
        "may_create": staff.holds(Privilege.CREATE_PATRONS),
        "deleted": request.query_params.get("deleted", "")[:255],
    })
