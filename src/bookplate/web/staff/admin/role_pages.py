"""``/staff/admin/roles``: role profiles and assignment rules — the list, one form for each
profile and rule, delete. The same service as ``/bookplate/v1/roles`` and ``bookplate roles``
(``c.roles``, ``roles.admin.RolesAdmin``): the policy's ``configure_user_management``, and
every change in the audit log with the staff member as its actor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.errors import ProfileNotFound
from bookplate.roles.model import ROLE_TYPES, AssignmentRule, RoleProfile
from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import CONFIRM_DELETE, EditForm, confirmed, needs
from bookplate.web.staff.admin.role_forms import (
    BASE,
    CONDITIONS,
    EMPTY_ROWS,
    MAX_FIELDS,
    MAX_FORM_BYTES,
    STATUSES,
    code_of,
    new_code,
    parameters_text,
    profile_url,
    read_profile,
    read_rule,
    rule_choices,
    rule_url,
)
from bookplate.web.staff.common import Refused, Staff, read_form, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)


async def big_form(staff: Staff) -> FormData:
    """The posted form of these pages: many rows or boxes (``role_forms.MAX_FIELDS``)."""
    return await read_form(staff, max_fields=MAX_FIELDS, max_bytes=MAX_FORM_BYTES)


def who(staff: Staff) -> str:
    return f"staff:{staff.actor.primary_id}"


def shown(form: FormData, name: str, limit: int) -> str:
    """What was typed in ``name``, cut to ``limit``, to show again above a form error."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _types() -> list[tuple[str, str]]:
    return sorted(((r.code, r.name) for r in ROLE_TYPES.values()), key=lambda t: t[1])


@get_page(router, BASE, needs(Action.CONFIGURE))
def overview(staff: Staff, request: Request) -> Response:
    config = staff.c.roles.config(staff.institution)
    return render(staff, request, "staff/admin/roles.html", {
        "profiles": list(config.profiles.values()), "rules": config.rules,
        "profile_url": profile_url, "rule_url": rule_url, "base": BASE,
        "names": {code: r.name for code, r in ROLE_TYPES.items()},
        "conditions": CONDITIONS, "section": "profiles",
        "deleted": request.query_params.get("deleted", "")[:64],
    })


# -- profiles --------------------------------------------------------------------------------


def _profile_page(staff: Staff, request: Request, profile: RoleProfile, *, new: bool,
                  error: str = "", notice: str = "", status: int = 200) -> Response:
    config = staff.c.roles.config(staff.institution)
    rows: list[dict[str, Any]] = [
        {"role_type": r.role_type, "scope": r.scope or "", "status": r.status,
         "expiry": r.expiry_date.isoformat() if r.expiry_date else "",
         "parameters": parameters_text(r)} for r in profile.roles]
    rows += [{"role_type": "", "scope": "", "status": "ACTIVE", "expiry": "",
              "parameters": ""}] * EMPTY_ROWS
    return render(staff, request, "staff/admin/role_profile.html", {
        "profile": profile, "new": new, "error": error, "notice": notice, "rows": rows,
        "types": _types(), "statuses": STATUSES, "libraries": list(config.libraries.values()),
        "used_by": [r.rule_id for r in config.rules if r.profile == profile.code],
        "profile_url": profile_url, "base": BASE, "section": "profiles",
    }, status)


def _stored_profile(staff: Staff, raw: str) -> RoleProfile:
    code = code_of(raw, "role profile")
    found = staff.c.roles.config(staff.institution).profiles.get(code)
    if found is None:
        raise Refused(404, str(ProfileNotFound(code)))
    return found


def _new_profile_code(staff: Staff, form: FormData) -> str:
    code = new_code(form, "code", "code of a profile")
    if code in staff.c.roles.config(staff.institution).profiles:
        raise Refused(400, f"A role profile {code} exists already: choose another "
                           "code, or change that profile on its page.")
    return code


PROFILE_FORM: EditForm[RoleProfile] = EditForm(
    read=lambda staff, form, code, stored: read_profile(form, code),
    save=lambda staff, profile, new: staff.c.roles.put_profile(
        staff.institution, profile, who(staff), staff.actor),
    show=_profile_page,
    typed=lambda staff, form: RoleProfile(shown(form, "code", 64), shown(form, "name", 255)),
    new_code=_new_profile_code,
    url=profile_url,
    code=lambda profile: profile.code,
)
PROFILE_FORM.routes(router, f"{BASE}/profiles", see=(Action.CONFIGURE,),
                    change=Action.CONFIGURE, stored=_stored_profile,
                    blank=lambda staff: RoleProfile("", ""), saved="The profile was saved.",
                    reader=big_form)


@post_page(router, f"{BASE}/profiles/{{code}}/delete", needs(Action.CONFIGURE), reader=big_form)
def delete_profile(staff: Staff, request: Request, form: FormData, code: str) -> Response:
    stored = _stored_profile(staff, code)
    if not confirmed(form, stored.code):
        return _profile_page(staff, request, stored, new=False, status=400,
                             error=CONFIRM_DELETE)
    try:
        staff.c.roles.remove_profile(staff.institution, stored.code, who(staff), staff.actor)
    except BookplateError as exc:
        return _profile_page(staff, request, stored, new=False, error=str(exc), status=400)
    return see_other(f"{BASE}?" + urlencode({"deleted": stored.code}))


# -- rules -----------------------------------------------------------------------------------


def _rule_page(staff: Staff, request: Request, rule: AssignmentRule, *, new: bool,
               error: str = "", notice: str = "", status: int = 200) -> Response:
    config = staff.c.roles.config(staff.institution)
    return render(staff, request, "staff/admin/role_rule.html", {
        "rule": rule, "new": new, "error": error, "notice": notice,
        "profiles": list(config.profiles.values()), "conditions": CONDITIONS,
        "choices": rule_choices(staff.book().tables, rule), "rule_url": rule_url,
        "base": BASE, "section": "profiles",
    }, status)


def _stored_rule(staff: Staff, raw: str) -> AssignmentRule:
    rule_id = code_of(raw, "assignment rule")
    for rule in staff.c.roles.config(staff.institution).rules:
        if rule.rule_id == rule_id:
            return rule
    raise Refused(404, f"Role assignment rule {rule_id} was not found.")


def _read_rule(staff: Staff, form: FormData, rule_id: str,
               stored: AssignmentRule | None) -> AssignmentRule:
    config = staff.c.roles.config(staff.institution)
    return read_rule(form, rule_id, config.profiles, rule_choices(staff.book().tables, stored))


def _new_rule_id(staff: Staff, form: FormData) -> str:
    rule_id = new_code(form, "rule_id", "ID of a rule")
    if any(r.rule_id == rule_id for r in staff.c.roles.config(staff.institution).rules):
        raise Refused(400, f"An assignment rule {rule_id} exists already: choose "
                           "another ID, or change that rule on its page.")
    return rule_id


RULE_FORM: EditForm[AssignmentRule] = EditForm(
    read=_read_rule,
    save=lambda staff, rule, new: staff.c.roles.put_rule(
        staff.institution, rule, who(staff), staff.actor),
    show=_rule_page,
    typed=lambda staff, form: AssignmentRule(shown(form, "rule_id", 64), ""),
    new_code=_new_rule_id,
    url=rule_url,
    code=lambda rule: rule.rule_id,
)
RULE_FORM.routes(router, f"{BASE}/rules", see=(Action.CONFIGURE,), change=Action.CONFIGURE,
                 stored=_stored_rule, blank=lambda staff: AssignmentRule("", ""),
                 saved="The rule was saved.", reader=big_form)


@post_page(router, f"{BASE}/rules/{{rule_id}}/delete", needs(Action.CONFIGURE), reader=big_form)
def delete_rule(staff: Staff, request: Request, form: FormData, rule_id: str) -> Response:
    stored = _stored_rule(staff, rule_id)
    staff.c.roles.remove_rule(staff.institution, stored.rule_id, who(staff), staff.actor)
    return see_other(f"{BASE}?" + urlencode({"deleted": stored.rule_id}))
