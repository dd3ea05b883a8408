"""``/staff/admin/roles/restricted``: which accounts are restricted (only staff who may edit
restricted accounts — User Administrator and higher — may change them): the user groups and
role types that make an account restricted, ticked or unticked in one form, and the list of
the accounts that are restricted today with the reason. The same service as
``PUT /bookplate/v1/roles/restricted`` and ``bookplate roles restricted`` (``c.roles``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.model import ALWAYS_RESTRICTED_ROLES, ROLE_TYPES, RestrictedSettings
from bookplate.roles.policy import Action, active_roles
from bookplate.users.model import User
from bookplate.web.staff.admin.common import needs
from bookplate.web.staff.admin.role_forms import BASE, read_restricted
from bookplate.web.staff.admin.role_pages import big_form
from bookplate.web.staff.common import Refused, Staff, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)

RESTRICTED = f"{BASE}/restricted"


def _why(user: User, settings: RestrictedSettings, staff: Staff) -> list[str]:
    reasons = []
    if user.user_group and user.user_group in settings.user_groups:
        reasons.append(f"user group {user.user_group}")
    marked = settings.role_types | ALWAYS_RESTRICTED_ROLES
    for code in sorted({r.role_type or "" for r in active_roles(user, staff.today)} & marked):
        role = ROLE_TYPES.get(code)
        reasons.append(f"role {role.name if role else code}")
    return reasons


def _groups(staff: Staff, settings: RestrictedSettings) -> dict[str, str]:
    groups = dict(staff.book().tables.get("UserGroups", {}))
    for stored in sorted(settings.user_groups):
        groups.setdefault(stored, stored)
    return groups


def _page(staff: Staff, request: Request, *, error: str = "", notice: str = "",
          status: int = 200, shown: RestrictedSettings | None = None) -> Response:
    settings = staff.c.roles.config(staff.institution).restricted
    accounts = staff.c.roles.restricted_accounts(staff.institution, staff.actor)
    rows: list[dict[str, Any]] = [
        {"user": u, "why": ", ".join(_why(u, settings, staff))} for u in accounts]
    return render(staff, request, "staff/admin/restricted.html", {
        "settings": shown or settings, "groups": _groups(staff, settings),
        "types": sorted((r for r in ROLE_TYPES.values()
                         if r.code not in ALWAYS_RESTRICTED_ROLES), key=lambda r: r.name),
        "always": [ROLE_TYPES[c] for c in sorted(ALWAYS_RESTRICTED_ROLES)],
        "accounts": rows, "error": error, "notice": notice, "action": RESTRICTED,
        "base": BASE, "section": "restricted",
    }, status)


@get_page(router, RESTRICTED, needs(Action.CONFIGURE))
def restricted(staff: Staff, request: Request) -> Response:
    saved = request.query_params.get("saved")
    return _page(staff, request, notice="The settings were saved." if saved else "")


@post_page(router, RESTRICTED, needs(Action.CONFIGURE), reader=big_form)
def set_restricted(staff: Staff, request: Request, form: FormData) -> Response:
    settings = staff.c.roles.config(staff.institution).restricted
    try:
        chosen = read_restricted(form, _groups(staff, settings))
    except Refused as exc:
        return _page(staff, request, error=exc.message, status=exc.status)
    try:
        staff.c.roles.set_restricted(staff.institution, chosen,
                                     f"staff:{staff.actor.primary_id}", staff.actor)
    except BookplateError as exc:
        return _page(staff, request, error=str(exc), status=400, shown=chosen)
    return see_other(f"{RESTRICTED}?saved=1")
