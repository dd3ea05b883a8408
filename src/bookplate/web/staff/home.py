"""``/staff/``: the start page with the signed-in person's menus, and ``/staff/roles``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.roles.model import ROLE_TYPES, Privilege
from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import may
from bookplate.web.staff.common import Staff, render
from bookplate.web.staff.pages import by_service, get_page, holds

router = APIRouter(include_in_schema=False)


def role_name(code: str) -> str:
    found = ROLE_TYPES.get(code)
    return found.name if found else code


@get_page(router, "/staff", by_service)
@get_page(router, "/staff/", by_service)
def start(staff: Staff, request: Request) -> Response:
    roles = [{"name": role_name(g["role_type"]), "scope": g["scope"]}
             for g in staff.caps["roles"]]
    registrations = (staff.institution in staff.c.settings.self_registration
                     and staff.holds(Privilege.EDIT_PATRONS))
    links = []
    if may(staff, Action.MANAGE_KEYS):
        links.append(("API keys", "/staff/admin/keys", "admin-keys"))
    if may(staff, Action.CONFIGURE):
        links += [("Staff login report", "/staff/admin/logins", "admin-logins"),
                  ("History of configuration changes", "/staff/admin/history",
                   "admin-history")]
    return render(staff, request, "staff/home.html", {
        "roles": roles, "registrations": registrations, "admin_links": links})


@get_page(router, "/staff/roles", holds(Privilege.MANAGE_ROLES))
def roles_page(staff: Staff, request: Request) -> Response:
    """The role catalogue and the institution's role profiles (read-only here; those who may
    configure user management change profiles, rules and restricted accounts on
    ``/staff/admin/roles``)."""
    config = staff.c.roles.config(staff.institution)
    return render(staff, request, "staff/roles.html", {
        "types": sorted(ROLE_TYPES.values(), key=lambda r: r.name),
        "profiles": list(config.profiles.values()),
        "libraries": list(config.libraries.values()),
        "role_name": role_name,
        "configure": staff.holds(Privilege.CONFIGURE_USER_MANAGEMENT),
    })
