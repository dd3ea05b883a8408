"""The Roles tab: add and remove roles (scope, circulation desk), apply a role profile, copy
the roles of another user, compare two users' roles, recalculate from the assignment rules.

Each change is one ``c.staff.replace`` of the record with its new roles, so the role policy
of the API decides (no escalation, restricted accounts, the last administrator); the page
asks the same policy (``may_grant``) to say beforehand which roles it cannot give, and why.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import ConflictError, InputError
from bookplate.roles.assignment import merge_roles, profile_roles
from bookplate.roles.model import ROLE_TYPES, Parameter, ScopeKind
from bookplate.roles.policy import may_grant, role_key
from bookplate.users.errors import UserNotFound
from bookplate.users.model import Role, RoleParameter, User, UserInput
from bookplate.web.staff.common import Refused, Staff, field, see_other, user_url
from bookplate.web.staff.pages import by_service, post_page
from bookplate.web.staff.record import edit_and_show, record_page, role_name, writable

router = APIRouter(include_in_schema=False)


def _scopes(staff: Staff) -> list[tuple[str, str]]:
    libraries = staff.c.roles.config(staff.institution).libraries
    return [(staff.institution, f"Institution ({staff.institution})"),
            *((lib.code, lib.name) for lib in libraries.values())]


def _describe_role(role: Role) -> dict[str, Any]:
    desks = [p.value for p in role.parameters if p.value]
    return {"role": role, "name": role_name(role.role_type), "desks": desks}


def roles_context(staff: Staff, request: Request, user: User) -> dict[str, Any]:
    """What the Roles tab shows: the roles, what may be removed or given (with reasons),
    the profiles, and a comparison with another user when asked."""
    config = staff.c.roles.config(staff.institution)
    rows = []
    for index, role in enumerate(user.roles):
        decision = may_grant(staff.actor, role)
        rows.append({**_describe_role(role), "index": index, "removable": bool(decision),
                     "reason": "" if decision else decision.reason})
    grantable: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for code, kind in sorted(ROLE_TYPES.items(), key=lambda kv: kv[1].name):
        scope = staff.institution if kind.scope is not ScopeKind.LIBRARY else None
        probe = Role(code, scope or next(iter(config.libraries), staff.institution))
        decision = may_grant(staff.actor, probe)
        (grantable if decision else refused).append(
            {"code": code, "name": kind.name, "scope": kind.scope.value,
             "desk": kind.parameter is Parameter.CIRCULATION_DESK,
             "reason": "" if decision else decision.reason})
    desks = [(lib.code, desk) for lib in config.libraries.values() for desk in sorted(lib.desks)]
    compare = request.query_params.get("compare", "").strip()[:255]
    other: dict[str, Any] | None = None
    if compare:
        other = _compare(staff, user, compare)
    return {"role_rows": rows, "grantable": grantable, "refused_roles": refused,
            "scopes": _scopes(staff), "desks": desks, "profiles": list(config.profiles.values()),
            "compare": compare, "other": other}


def _compare(staff: Staff, user: User, other_id: str) -> dict[str, Any]:
    try:
        other = staff.c.staff.get(staff.actor, other_id, scope=staff.location)
    except UserNotFound as exc:
        return {"error": str(exc)}
    inst = staff.institution
    mine = {role_key(r, inst): r for r in user.roles}
    theirs = {role_key(r, inst): r for r in other.roles}
    lines = []
    for key in sorted(mine.keys() | theirs.keys(), key=lambda k: (role_name(k[0]), k[1])):
        role = mine.get(key) or theirs[key]
        lines.append({**_describe_role(role), "here": key in mine, "there": key in theirs})
    return {"user": other, "lines": lines, "error": ""}


def _adding(added: list[Role]) -> Any:
    def edit(user: User) -> None:
        user.roles = merge_roles(user.roles, added)

    return edit


def _role_from_form(staff: Staff, form: FormData) -> Role:
    code = field(form, "role_type", 16)
    kind = ROLE_TYPES.get(code)
    if kind is None:
        raise Refused(400, f"Given role type ({code[:16]}) is invalid.")
    scope = field(form, "scope", 64) or staff.institution
    role = Role(code, scope, "ACTIVE")
    desk = field(form, "desk", 140)
    if desk and kind.parameter is Parameter.CIRCULATION_DESK:
        library, _, code_ = desk.partition("/")
        role.parameters.append(RoleParameter(Parameter.CIRCULATION_DESK.value, library, code_))
    return role


@post_page(router, "/staff/users/{user_id:path}/roles/add", by_service)
def add_role(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    role = _role_from_form(staff, form)
    return edit_and_show(staff, request, user_id, "roles",
                         _adding([role]),
                         "roles-add", done="added")


@post_page(router, "/staff/users/{user_id:path}/roles/remove", by_service)
def remove_role(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    stored = writable(staff, user_id)
    raw = field(form, "index", 6)
    if not raw.isdigit() or int(raw) >= len(stored.roles):
        raise Refused(400, "That role is no longer on the record. Reload the page.")
    if len(stored.roles) == 1:
        return record_page(staff, request, stored.primary_id, "roles", errors={
            "roles-list": "The last role cannot be removed (a PUT without roles keeps "
                          "them, as in Alma): make it inactive through the API, or add "
                          "another role first."}, status=400)
    index = int(raw)

    def drop(user: User) -> None:
        del user.roles[index]

    return edit_and_show(staff, request, user_id, "roles", drop, "roles-list",
                         done="removed")


@post_page(router, "/staff/users/{user_id:path}/roles/profile", by_service)
def apply_profile(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    code = field(form, "profile", 64)
    profile = staff.c.roles.config(staff.institution).profiles.get(code)
    if profile is None:
        raise Refused(400, f"Role profile {code[:64]} was not found.")
    added = profile_roles(profile, staff.institution, staff.today)
    return edit_and_show(staff, request, user_id, "roles",
                         _adding(added),
                         "roles-profile", done="added")


@post_page(router, "/staff/users/{user_id:path}/roles/copy", by_service)
def copy_roles(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    """Adds every role of another user (the ones this user lacks); removes none."""
    source_id = field(form, "source", 255)
    try:
        source = staff.c.staff.get(staff.actor, source_id, scope=staff.location)
    except UserNotFound as exc:
        stored = writable(staff, user_id)
        return record_page(staff, request, stored.primary_id, "roles",
                           errors={"roles-copy": str(exc)}, status=400)
    added = copy.deepcopy(source.roles)
    return edit_and_show(staff, request, user_id, "roles",
                         _adding(added),
                         "roles-copy", done="added")


@post_page(router, "/staff/users/{user_id:path}/roles/recalculate", by_service)
def recalculate(staff: Staff, request: Request, form: FormData, user_id: str) -> Response:
    """The assignment rules run again on the record (the API's ``recalculate_roles``)."""
    stored = writable(staff, user_id)
    try:
        saved = staff.c.staff.replace(staff.actor, stored.primary_id, UserInput(stored),
                                      recalculate_roles=True, scope=staff.location)
    except (InputError, ConflictError) as exc:
        return record_page(staff, request, stored.primary_id, "roles",
                           errors={"roles-recalculate": str(exc)}, status=400)
    return see_other(user_url(saved.primary_id, "roles") + "&done=saved")
