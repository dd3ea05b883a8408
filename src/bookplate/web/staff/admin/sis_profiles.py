"""``/staff/admin/sis/profiles``: users integration profiles — the list, one form with
every setting the CLI has, delete, and the preview of a CSV sample through the saved mapping
(``c.sis``; docs/admin-ui.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.roles.policy import Action
from bookplate.sis.model import (
    KEEP_MISSING,
    PRIMARY_ID_MATCH,
    REFUSE_MISSING,
    CsvOptions,
    FieldRule,
    MissingPolicy,
    Profile,
)
from bookplate.sis.preview import SAMPLE_BYTES
from bookplate.sis.services import RULED_FIELDS
from bookplate.users.model import RecordType
from bookplate.web.staff.admin.common import (
    CODE,
    CONFIRM_DELETE,
    EditForm,
    confirmed,
    may,
    needs,
    upload_form,
    uploaded,
)
from bookplate.web.staff.admin.sis_common import (
    BASE,
    EMPTY_ROWS,
    FIELD_RULES,
    MAX_ROWS,
    MISSING_POLICIES,
    choice,
    profile_of,
    profile_url,
)
from bookplate.web.staff.common import Refused, Staff, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)

# -- the profile form ------------------------------------------------------------------------


def _days(form: FormData, name: str, label: str) -> int | None:
    raw = field(form, name, 10)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 36500:
        raise Refused(400, f"{label} must be a whole number of days from 0 to 36500, or empty.")
    return int(raw)


def _share(form: FormData) -> float:
    raw = field(form, "guard_share", 10) or "0.1"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise Refused(400, "The guard share must be a number from 0 to 1 (0.1 is 10 %).")
    return value


def _rules(form: FormData) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for i in range(MAX_ROWS):
        name = field(form, f"rule_field_{i}", 64)
        if not name or form.get(f"rule_remove_{i}"):
            continue
        if name not in RULED_FIELDS:
            raise Refused(400, f"No per-field rule is possible for {name}.")
        rules[name] = FieldRule(choice(form, f"rule_{i}", FIELD_RULES, f"The rule of {name}"))
    return rules


def _columns(form: FormData) -> dict[str, str]:
    columns: dict[str, str] = {}
    for i in range(MAX_ROWS):
        header = field(form, f"col_header_{i}", 255)
        target = field(form, f"col_target_{i}", 255)
        if form.get(f"col_remove_{i}") or not (header or target):
            continue
        if not header or not target:
            raise Refused(400, "Each CSV column needs both the header of the file and the "
                          f"target it fills ({header or target}).")
        if header in columns:
            raise Refused(400, f"The CSV header {header} is mapped twice.")
        columns[header] = target
    return columns


def read_profile(form: FormData, code: str, institution: str) -> Profile:
    """The whole profile as the form shows it: every setting the CLI has (docs/admin-ui.md)."""
    delimiter = form.get("csv_delimiter")
    delimiter = delimiter if isinstance(delimiter, str) else ""
    if delimiter == "\\t":
        delimiter = "\t"
    if len(delimiter) != 1:
        raise Refused(400, "The CSV delimiter must be one character (\\t for a tab).")
    return Profile(
        code=code,
        institution=institution,
        record_type=choice(form, "record_type", tuple(r.value for r in RecordType),
                            "The record type"),
        match_id_type=field(form, "match_id_type", 64) or PRIMARY_ID_MATCH,
        add_unmatched=bool(form.get("add_unmatched")),
        default_user_group=field(form, "default_user_group", 64) or None,
        expiry_days=_days(form, "expiry_days", "Expiry days"),
        purge_days=_days(form, "purge_days", "Purge days"),
        field_rules=_rules(form),
        missing_policy=MissingPolicy(choice(form, "missing_policy", MISSING_POLICIES,
                                             "Users missing from a file")),
        guard_share=_share(form),
        guard_changes=bool(form.get("guard_changes")),
        description=field(form, "description", 1000),
        csv=CsvOptions(
            _columns(form),
            delimiter,
            field(form, "csv_encoding", 32) or "utf-8-sig",
            field(form, "csv_date_format", 32) or "%Y-%m-%d",
            field(form, "csv_multi_separator", 8),
            choice(form, "csv_missing_columns", (REFUSE_MISSING, KEEP_MISSING),
                    "Missing CSV columns"),
        ),
    )


def _profile_page(staff: Staff, request: Request, profile: Profile, *, new: bool,
                  error: str = "", notice: str = "", preview: Any = None,
                  status: int = 200) -> Response:
    book = staff.book()
    rules = [{"field": k, "rule": v.value} for k, v in profile.field_rules.items()]
    columns = [{"header": k, "target": v} for k, v in profile.csv.columns.items()]
    return render(staff, request, "staff/admin/sis_profile.html", {
        "profile": profile, "new": new, "error": error, "notice": notice, "preview": preview,
        "editable": may(staff, Action.MANAGE_INTEGRATIONS),
        "may_run": may(staff, Action.RUN_SIS),
        "record_types": [r.value for r in RecordType],
        "id_types": dict(book.tables.get("UserIdentifierTypes", {})),
        "groups": dict(book.tables.get("UserGroups", {})),
        "ruled_fields": RULED_FIELDS, "field_rules": FIELD_RULES,
        "missing_policies": MISSING_POLICIES,
        "rules": rules + [{"field": "", "rule": "erase"}] * EMPTY_ROWS,
        "columns": columns + [{"header": "", "target": ""}] * EMPTY_ROWS,
        "delimiter": "\\t" if profile.csv.delimiter == "\t" else profile.csv.delimiter,
        "sample_limit": SAMPLE_BYTES, "profile_url": profile_url,
    }, status)


@get_page(router, f"{BASE}/profiles", needs(Action.MANAGE_INTEGRATIONS, Action.RUN_SIS))
def profiles(staff: Staff, request: Request) -> Response:
    return render(staff, request, "staff/admin/sis_profiles.html", {
        "profiles": staff.c.sis.profiles(staff.institution),
        "editable": may(staff, Action.MANAGE_INTEGRATIONS),
        "may_run": may(staff, Action.RUN_SIS), "profile_url": profile_url,
        "deleted": request.query_params.get("deleted", "")[:64],
    })


def _new_code(staff: Staff, form: FormData) -> str:
    code = field(form, "code", 100)
    if not CODE.match(code):
        raise Refused(400, "The code must be 1 to 64 letters, digits, '.', '_' or '-'.")
    return code


def _typed(staff: Staff, form: FormData) -> Profile:
    value = form.get("code")
    return Profile(value.strip()[:64] if isinstance(value, str) else "", staff.institution)


def _save(staff: Staff, profile: Profile, new: bool) -> object:
    who = f"staff:{staff.actor.primary_id}"
    if new:
        return staff.c.sis.create_profile(profile, who)
    return staff.c.sis.update_profile(profile, who)


PROFILE_FORM: EditForm[Profile] = EditForm(
    read=lambda staff, form, code, stored: read_profile(form, code, staff.institution),
    save=_save,
    show=_profile_page,
    typed=_typed,
    new_code=_new_code,
    url=profile_url,
    code=lambda profile: profile.code,
)
# Seeing a profile is allowed to whoever may run the SIS; changing one, to its administrators.
PROFILE_FORM.routes(router, f"{BASE}/profiles",
                    see=(Action.MANAGE_INTEGRATIONS, Action.RUN_SIS),
                    change=Action.MANAGE_INTEGRATIONS, stored=profile_of,
                    blank=lambda staff: Profile("", staff.institution),
                    saved="The profile was saved.")


@post_page(router, f"{BASE}/profiles/{{code}}/delete", needs(Action.MANAGE_INTEGRATIONS))
def delete_profile(staff: Staff, request: Request, form: FormData, code: str) -> Response:
    stored = profile_of(staff, code)
    if not confirmed(form, stored.code):
        return _profile_page(staff, request, stored, new=False, status=400,
                             error=CONFIRM_DELETE)
    staff.c.sis.delete_profile(staff.institution, stored.code, f"staff:{staff.actor.primary_id}")
    return see_other(f"{BASE}/profiles?" + urlencode({"deleted": stored.code}))


async def _sample_form(staff: Staff) -> FormData:
    return await upload_form(staff, SAMPLE_BYTES * 4)


@post_page(router, f"{BASE}/profiles/{{code}}/preview", needs(Action.MANAGE_INTEGRATIONS),
           reader=_sample_form)
def preview(staff: Staff, request: Request, form: FormData, code: str) -> Response:
    """The first rows of an uploaded CSV sample through the stored profile's mapping."""
    stored = profile_of(staff, code)
    sample = uploaded(form).file.read(SAMPLE_BYTES)
    found = staff.c.sis.preview(staff.institution, stored.code, sample)
    return _profile_page(staff, request, stored, new=False, preview=found)


