"""What the SIS administration pages (``/staff/admin/sis/``: ``sis_profiles``, ``sis_runs``)
share: their addresses, the profile and run they name, and the choice fields of their forms.
The same services as ``/bookplate/v1/sis`` (``c.sis``, ``c.sis_jobs``) and the same policy:
profiles are changed by those who may manage integration profiles and seen also by those who
may run SIS jobs; runs are started, read and queued again by those who may run SIS jobs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData

from bookplate.sis.errors import ProfileNotFound, RunNotFound
from bookplate.sis.model import (
    FieldRule,
    MissingPolicy,
    Profile,
    Report,
)
from bookplate.web.staff.admin.common import code_in_path
from bookplate.web.staff.common import Refused, Staff, field

BASE = "/staff/admin/sis"
ITEMS_PAGE = 50
MAX_PAGE = 100_000
RUNS_SHOWN = 50
#: Rows of the rule and column tables: those of the profile and this many empty ones.
EMPTY_ROWS = 4
MAX_ROWS = 120
BUCKET_NAMES = {
    "create": "Created", "update": "Updated", "unchanged": "Unchanged",
    "reject": "Rejected", "deactivate": "Deactivated or expired",
}
DRY_BUCKET_NAMES = {
    "create": "Would be created", "update": "Would be updated", "unchanged": "Unchanged",
    "reject": "Would be rejected", "deactivate": "Would be deactivated or expired",
}
FIELD_RULES = tuple(rule.value for rule in FieldRule)
MISSING_POLICIES = tuple(policy.value for policy in MissingPolicy)


def profile_url(code: str) -> str:
    return f"{BASE}/profiles/{quote(code, safe='')}"


def run_url(run_id: int | None, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", 1)}
    return f"{BASE}/runs/{run_id}" + (f"?{urlencode(kept)}" if kept else "")


def code_of(code: str) -> str:
    return code_in_path(code, "users integration profile")


def profile_of(staff: Staff, code: str) -> Profile:
    try:
        return staff.c.sis.profile(staff.institution, code_of(code))
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None


def run_of(staff: Staff, run_id: int) -> Report:
    try:
        report = staff.c.sis.report(run_id)
    except RunNotFound as exc:
        raise Refused(404, str(exc)) from None
    if report.institution != staff.institution:
        raise Refused(404, f"No SIS run {run_id}.")
    (report,) = staff.c.sis_jobs.refresh([report])
    return report


def run_number(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise Refused(404, f"No SIS run {raw[:20]}.")
    return int(raw)


def choice(form: FormData, name: str, allowed: tuple[str, ...], label: str) -> str:
    value = field(form, name, 64)
    if value not in allowed:
        raise Refused(400, f"{label} is not one of the choices offered.")
    return value

