"""``/staff/admin/codes``: the institution's code tables. Add or edit a code, disable it,
make it the default and, for user groups, choose the record types it is enabled for in the
same form (``c.code_tables``, ``roles.codes.CodeTablesAdmin``; the policy's
``configure_user_management``)."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.codes import GROUP_TABLE, RECORD_TYPES, CodeTableNotFound
from bookplate.roles.policy import Action
from bookplate.users.ports import CodeRow
from bookplate.web.staff.admin.common import code_in_path, needs, saved_notice
from bookplate.web.staff.common import Refused, Staff, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)

BASE = "/staff/admin/codes"
TABLE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _name(table: str) -> str:
    return code_in_path(table, "code table", TABLE)


def _table_page(staff: Staff, request: Request, table: str, *, error: str = "",
                notice: str = "", status: int = 200) -> Response:
    try:
        view = staff.c.code_tables.table(staff.actor, staff.institution, table)
    except CodeTableNotFound as exc:
        raise Refused(404, str(exc)) from None
    return render(staff, request, "staff/admin/code_table.html", {
        "view": view, "groups": view.name == GROUP_TABLE, "record_types": RECORD_TYPES,
        "error": error, "notice": notice, "base": BASE,
    }, status)


@get_page(router, BASE, needs(Action.CONFIGURE))
def tables(staff: Staff, request: Request) -> Response:
    names = staff.c.code_tables.tables(staff.actor, staff.institution)
    return render(staff, request, "staff/admin/code_tables.html", {"names": names, "base": BASE})


@get_page(router, f"{BASE}/{{table}}", needs(Action.CONFIGURE))
def show_table(staff: Staff, request: Request, table: str) -> Response:
    return _table_page(staff, request, _name(table),
                       notice=saved_notice(request, "The code {} was saved.", 255))


@post_page(router, f"{BASE}/{{table}}", needs(Action.CONFIGURE))
def save_code(staff: Staff, request: Request, form: FormData, table: str) -> Response:
    """One code: added when new, changed otherwise (the form of its row)."""
    name = _name(table)
    code = field(form, "code", 255)
    row = CodeRow(code, field(form, "description", 1000), bool(form.get("enabled")),
                  bool(form.get("default")))
    types = None
    if name == GROUP_TABLE:
        types = [v for v in form.getlist("record_type") if isinstance(v, str)]
    try:
        staff.c.code_tables.put(staff.actor, f"staff:{staff.actor.primary_id}",
                                staff.institution, name, row, types)
    except CodeTableNotFound as exc:
        raise Refused(404, str(exc)) from None
    except BookplateError as exc:
        return _table_page(staff, request, name, error=str(exc), status=400)
    return see_other(f"{BASE}/{name}?" + urlencode({"saved": code}) + f"#code-{quote(code)}")
