"""``/staff/admin/roles/tester``: which profiles the assignment rules would give a user, and
why — for a stored user (by primary ID, read through the user services, so the viewing
policy applies) or for attributes typed in (user group, job category, record type, campus).
A GET form: nothing is written (``RolesAdmin.try_rules``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.roles.model import ROLE_TYPES
from bookplate.roles.policy import Action
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.web.staff.admin.common import needs
from bookplate.web.staff.admin.role_forms import BASE, CONDITIONS, RECORD_TYPES, rule_url
from bookplate.web.staff.common import Staff, render
from bookplate.web.staff.pages import get_page

router = APIRouter(include_in_schema=False)

TESTER = f"{BASE}/tester"
#: The query fields: primary ID, and the attributes of a user not stored.
ASKED = ("primary_id", "user_group", "job_category", "record_type", "campus")
LIMIT = 255


def _typed_user(staff: Staff, asked: dict[str, str]) -> User:
    return User(
        "(typed in)", institution=staff.institution,
        record_type=asked["record_type"] or "PUBLIC",
        user_group=asked["user_group"] or None, job_category=asked["job_category"] or None,
        campus_code=asked["campus"] or None,
    )


@get_page(router, TESTER, needs(Action.CONFIGURE))
def tester(staff: Staff, request: Request) -> Response:
    asked = {name: request.query_params.get(name, "").strip() for name in ASKED}
    book = staff.book()
    context = {
        "asked": asked, "base": BASE, "tester": TESTER, "rule_url": rule_url,
        "conditions": CONDITIONS, "record_types": RECORD_TYPES,
        "tables": book.tables, "section": "tester",
        "names": {code: r.name for code, r in ROLE_TYPES.items()},
        "result": None, "user": None, "error": "",
    }
    too_long = [name for name, value in asked.items() if len(value) > LIMIT]
    if too_long:
        context["error"] = f"The field {too_long[0]} is too long (at most {LIMIT})."
        return render(staff, request, "staff/admin/role_tester.html", context, 400)
    if asked["record_type"] and asked["record_type"] not in RECORD_TYPES:
        context["error"] = "The record type must be PUBLIC, STAFF or CONTACT."
        return render(staff, request, "staff/admin/role_tester.html", context, 400)
    if asked["primary_id"]:
        try:
            user = staff.c.staff.get(staff.actor, asked["primary_id"],
                                     scope=staff.location)
        except UserNotFound as exc:
            context["error"] = str(exc)
            return render(staff, request, "staff/admin/role_tester.html", context, 404)
        context["user"] = user
        context["result"] = staff.c.roles.try_rules(staff.institution, user, staff.actor,
                                                    stored=True)
    elif any(asked[name] for name in ASKED[1:]):
        user = _typed_user(staff, asked)
        context["user"] = user
        context["result"] = staff.c.roles.try_rules(staff.institution, user, staff.actor)
    return render(staff, request, "staff/admin/role_tester.html", context)
