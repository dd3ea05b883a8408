"""Reading the forms of the role-configuration pages (``/staff/admin/roles``): a profile's
rows of roles, an assignment rule's conditions and the restricted-account settings. What a
form may hold is what the page offered (role types of the catalogue, codes of the code
tables); anything else is refused with a sentence (400) before the roles service is asked,
and the service then checks scopes, desks and texts as it does for the API and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from urllib.parse import quote

from starlette.datastructures import FormData

from bookplate.roles.model import (
    ALWAYS_RESTRICTED_ROLES,
    ROLE_TYPES,
    AssignmentRule,
    Parameter,
    ProfileRole,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.users.model import RecordType
from bookplate.web.staff.admin.common import CODE, code_in_path
from bookplate.web.staff.common import Refused, field

BASE = "/staff/admin/roles"
#: Rows of a profile's role table: those of the profile and this many empty ones.
EMPTY_ROWS = 4
#: A profile holds up to 500 roles (as through the API), shown with the empty rows.
MAX_ROWS = 500 + EMPTY_ROWS
#: Limits of these pages' forms: a profile's rows of six fields, a rule's or the restricted
#: settings' boxes (one per code of a table).
MAX_FIELDS = MAX_ROWS * 6 + 20
MAX_FORM_BYTES = 600_000
MAX_PARAMETERS = 20
STATUSES = ("ACTIVE", "INACTIVE")
RECORD_TYPES = tuple(r.value for r in RecordType)
#: The rule conditions: form field, the rule's attribute, the code table offered, label.
CONDITIONS = (
    ("user_group", "user_groups", "UserGroups", "User groups"),
    ("job_category", "job_categories", "JobTitles", "Job categories"),
    ("record_type", "record_types", None, "Record types"),
    ("campus", "campuses", "Campuses", "Campuses"),
)


def profile_url(code: str) -> str:
    return f"{BASE}/profiles/{quote(code, safe='')}"


def rule_url(rule_id: str) -> str:
    return f"{BASE}/rules/{quote(rule_id, safe='')}"


def code_of(raw: str, what: str) -> str:
    """A profile code or rule ID from the address (404 when it cannot be one)."""
    return code_in_path(raw, what, CODE)


def new_code(form: FormData, name: str, what: str) -> str:
    code = field(form, name, 100)
    if not CODE.match(code):
        raise Refused(400, f"The {what} must be 1 to 64 letters, digits, '.', '_' or '-'.")
    return code


def _date(raw: str, row: int) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refused(400, f"The expiry date of role row {row} must be a date "
                           "(YYYY-MM-DD), or empty.") from None


def _parameters(raw: str, role_type: str, scope: str | None, row: int
                ) -> tuple[tuple[str, str, str], ...]:
    """``DESK_A, LIB_B:DESK_B``: values of the role's parameter, each in the role's own
    library unless it names one (``library:value``)."""
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if len(values) > MAX_PARAMETERS:
        raise Refused(400, f"Role row {row} has more than {MAX_PARAMETERS} parameters.")
    kind = ROLE_TYPES[role_type].parameter or Parameter.CIRCULATION_DESK
    out = []
    for value in values:
        where, _, what = value.rpartition(":")
        out.append((kind.value, where or scope or "", what))
    return tuple(out)


def parameters_text(role: ProfileRole) -> str:
    """The parameters as the form shows them (the inverse of ``_parameters``)."""
    scope = role.scope or ""
    return ", ".join(v if s in ("", scope) else f"{s}:{v}" for _, s, v in role.parameters)


def read_profile(form: FormData, code: str) -> RoleProfile:
    name = field(form, "name", 255)
    if not name:
        raise Refused(400, "The profile needs a name.")
    roles = []
    for i in range(MAX_ROWS):
        role_type = field(form, f"role_type_{i}", 64)
        if not role_type or form.get(f"remove_{i}"):
            continue
        row = i + 1
        if role_type not in ROLE_TYPES:
            raise Refused(400, f"Role row {row}: {role_type} is not a role type of the "
                               "catalogue.")
        status = field(form, f"status_{i}", 16) or "ACTIVE"
        if status not in STATUSES:
            raise Refused(400, f"The status of role row {row} must be ACTIVE or INACTIVE.")
        scope = field(form, f"scope_{i}", 64) or None
        roles.append(ProfileRole(
            role_type, scope, _parameters(field(form, f"parameters_{i}", 2000), role_type,
                                          scope, row),
            status, _date(field(form, f"expiry_{i}", 10), row)))
    return RoleProfile(code, name, tuple(roles))


def chosen(form: FormData, name: str, offered: Iterable[str], label: str) -> frozenset[str]:
    """The ticked boxes of ``name``; each must be one of ``offered``."""
    allowed = set(offered)
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    for value in values:
        if value not in allowed:
            raise Refused(400, f"{label}: {value[:64]} is not one of the choices offered.")
    return frozenset(values)


def rule_choices(tables: Mapping[str, Mapping[str, str]], rule: AssignmentRule | None
                 ) -> dict[str, dict[str, str]]:
    """Per condition field: the codes offered (code -> description), the table's enabled
    codes and those the stored rule already names (so saving it keeps them)."""
    out: dict[str, dict[str, str]] = {}
    for name, attribute, table, _ in CONDITIONS:
        codes = dict(tables.get(table, {})) if table else {r: r for r in RECORD_TYPES}
        for stored in sorted(getattr(rule, attribute)) if rule else ():
            codes.setdefault(stored, stored)
        out[name] = codes
    return out


def read_rule(form: FormData, rule_id: str, profiles: Iterable[str],
              offered: Mapping[str, Mapping[str, str]]) -> AssignmentRule:
    profile = field(form, "profile", 64)
    if profile not in set(profiles):
        raise Refused(400, "Choose one of the role profiles for the rule.")
    raw = field(form, "position", 10) or "0"
    if not raw.isdigit() or int(raw) > 10_000:
        raise Refused(400, "The position must be a whole number from 0 to 10000.")
    sets = {attribute: chosen(form, name, offered[name], label)
            for name, attribute, _, label in CONDITIONS}
    return AssignmentRule(rule_id, profile, sets["user_groups"], sets["job_categories"],
                          sets["record_types"], sets["campuses"], int(raw))


def read_restricted(form: FormData, groups: Iterable[str]) -> RestrictedSettings:
    """The ticked user groups and role types (26 and 50 are always restricted: not asked)."""
    types = (code for code in ROLE_TYPES if code not in ALWAYS_RESTRICTED_ROLES)
    return RestrictedSettings(chosen(form, "user_group", groups, "User groups"),
                              chosen(form, "role_type", types, "Role types"))
