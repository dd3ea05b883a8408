"""``/staff/admin/sis/``: users integration profiles, uploads that start runs, the runs and
their reports. The same services as ``/bookplate/v1/sis`` (``c.sis``, ``c.sis_jobs``) and the
same policy: profiles are changed by those who may manage integration profiles and seen also
by those who may run SIS jobs; runs are started, read and queued again by those who may run
SIS jobs.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response, StreamingResponse

from bookplate.errors import BookplateError
from bookplate.roles.policy import Action
from bookplate.sis.errors import ProfileNotFound, RunNotFound
from bookplate.sis.jobs import FINISHED, REQUEUEABLE
from bookplate.sis.model import (
    BUCKETS,
    KEEP_MISSING,
    PRIMARY_ID_MATCH,
    REFUSE_MISSING,
    CsvOptions,
    FieldRule,
    MissingPolicy,
    Mode,
    Profile,
    Report,
)
from bookplate.sis.preview import SAMPLE_BYTES
from bookplate.sis.report_out import cell_text
from bookplate.sis.services import RULED_FIELDS
from bookplate.sis.sources.formats import kind_of
from bookplate.sis.upload import check_upload
from bookplate.users.model import RecordType
from bookplate.web.staff.admin.common import copy_upload, may, need, upload_form, uploaded
from bookplate.web.staff.common import Refused, Staff, field, page, render, see_other

router = APIRouter(include_in_schema=False)

BASE = "/staff/admin/sis"
CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
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


def _code(code: str) -> str:
    if not CODE.match(code):
        raise Refused(404, f"No users integration profile {code[:64]}.")
    return code


def _profile(staff: Staff, code: str) -> Profile:
    try:
        return staff.c.sis.profile(staff.institution, _code(code))
    except ProfileNotFound as exc:
        raise Refused(404, str(exc)) from None


def _run(staff: Staff, run_id: int) -> Report:
    try:
        report = staff.c.sis.report(run_id)
    except RunNotFound as exc:
        raise Refused(404, str(exc)) from None
    if report.institution != staff.institution:
        raise Refused(404, f"No SIS run {run_id}.")
    (report,) = staff.c.sis_jobs.refresh([report])
    return report


def _run_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise Refused(404, f"No SIS run {raw[:20]}.")
    return int(raw)


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


def _choice(form: FormData, name: str, allowed: tuple[str, ...], label: str) -> str:
    value = field(form, name, 64)
    if value not in allowed:
        raise Refused(400, f"{label} is not one of the choices offered.")
    return value


def _rules(form: FormData) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for i in range(MAX_ROWS):
        name = field(form, f"rule_field_{i}", 64)
        if not name or form.get(f"rule_remove_{i}"):
            continue
        if name not in RULED_FIELDS:
            raise Refused(400, f"No per-field rule is possible for {name}.")
        rules[name] = FieldRule(_choice(form, f"rule_{i}", FIELD_RULES, f"The rule of {name}"))
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
        record_type=_choice(form, "record_type", tuple(r.value for r in RecordType),
                            "The record type"),
        match_id_type=field(form, "match_id_type", 64) or PRIMARY_ID_MATCH,
        add_unmatched=bool(form.get("add_unmatched")),
        default_user_group=field(form, "default_user_group", 64) or None,
        expiry_days=_days(form, "expiry_days", "Expiry days"),
        purge_days=_days(form, "purge_days", "Purge days"),
        field_rules=_rules(form),
        missing_policy=MissingPolicy(_choice(form, "missing_policy", MISSING_POLICIES,
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
            _choice(form, "csv_missing_columns", (REFUSE_MISSING, KEEP_MISSING),
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


@router.get(f"{BASE}/profiles")
async def profiles(request: Request) -> Response:
    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.MANAGE_INTEGRATIONS, Action.RUN_SIS)
        return render(staff, request, "staff/admin/sis_profiles.html", {
            "profiles": staff.c.sis.profiles(staff.institution),
            "editable": may(staff, Action.MANAGE_INTEGRATIONS),
            "may_run": may(staff, Action.RUN_SIS), "profile_url": profile_url,
            "deleted": request.query_params.get("deleted", "")[:64],
        })

    return await page(request, impl)


@router.get(f"{BASE}/profiles/new")
async def new_profile(request: Request) -> Response:
    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.MANAGE_INTEGRATIONS)
        return _profile_page(staff, request, Profile("", staff.institution), new=True)

    return await page(request, impl)


@router.post(f"{BASE}/profiles/new")
async def create_profile(request: Request) -> Response:
    def impl(staff: Staff, form: FormData | None) -> Response:
        assert form is not None
        need(staff, Action.MANAGE_INTEGRATIONS)
        code = field(form, "code", 100)
        if not CODE.match(code):
            profile = Profile(code[:64], staff.institution)
            return _profile_page(staff, request, profile, new=True, status=400, error=(
                "The code must be 1 to 64 letters, digits, '.', '_' or '-'."))
        try:
            profile = read_profile(form, code, staff.institution)
        except Refused as exc:
            return _profile_page(staff, request, Profile(code, staff.institution), new=True,
                                 error=exc.message, status=400)
        try:
            staff.c.sis.create_profile(profile)
        except BookplateError as exc:
            return _profile_page(staff, request, profile, new=True, error=str(exc), status=400)
        return see_other(profile_url(code) + "?saved=1")

    return await page(request, impl, form=True)


@router.get(f"{BASE}/profiles/{{code}}")
async def show_profile(request: Request, code: str) -> Response:
    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.MANAGE_INTEGRATIONS, Action.RUN_SIS)
        notice = "The profile was saved." if request.query_params.get("saved") else ""
        return _profile_page(staff, request, _profile(staff, code), new=False, notice=notice)

    return await page(request, impl)


@router.post(f"{BASE}/profiles/{{code}}")
async def save_profile(request: Request, code: str) -> Response:
    """Saves the form over the stored profile. The form shows every stored setting, so what
    the person leaves alone stays as it is (the CLI's ``profile update``); a rule or a
    column is changed in its row, removed with its row's box, added in an empty row."""

    def impl(staff: Staff, form: FormData | None) -> Response:
        assert form is not None
        need(staff, Action.MANAGE_INTEGRATIONS)
        stored = _profile(staff, code)
        try:
            profile = read_profile(form, stored.code, staff.institution)
        except Refused as exc:
            return _profile_page(staff, request, stored, new=False, error=exc.message,
                                 status=400)
        try:
            staff.c.sis.update_profile(profile)
        except BookplateError as exc:
            return _profile_page(staff, request, profile, new=False, error=str(exc), status=400)
        return see_other(profile_url(stored.code) + "?saved=1")

    return await page(request, impl, form=True)


@router.post(f"{BASE}/profiles/{{code}}/delete")
async def delete_profile(request: Request, code: str) -> Response:
    def impl(staff: Staff, form: FormData | None) -> Response:
        assert form is not None
        need(staff, Action.MANAGE_INTEGRATIONS)
        stored = _profile(staff, code)
        if field(form, "confirm", 100) != stored.code:
            return _profile_page(staff, request, stored, new=False, status=400, error=(
                "To delete the profile, type its code in the box next to the button."))
        staff.c.sis.delete_profile(staff.institution, stored.code)
        return see_other(f"{BASE}/profiles?" + urlencode({"deleted": stored.code}))

    return await page(request, impl, form=True)


async def _sample_form(staff: Staff) -> FormData:
    return await upload_form(staff, SAMPLE_BYTES * 4)


@router.post(f"{BASE}/profiles/{{code}}/preview")
async def preview(request: Request, code: str) -> Response:
    """The first rows of an uploaded CSV sample through the stored profile's mapping."""

    def impl(staff: Staff, form: FormData | None) -> Response:
        assert form is not None
        need(staff, Action.MANAGE_INTEGRATIONS)
        stored = _profile(staff, code)
        sample = uploaded(form).file.read(SAMPLE_BYTES)
        found = staff.c.sis.preview(staff.institution, stored.code, sample)
        return _profile_page(staff, request, stored, new=False, preview=found)

    return await page(request, impl, reader=_sample_form)


# -- runs ------------------------------------------------------------------------------------


def _active(report: Report) -> bool:
    return report.status not in FINISHED and report.status != "interrupted"


@router.get(f"{BASE}/runs")
async def runs(request: Request) -> Response:
    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.RUN_SIS)
        chosen = request.query_params.get("profile", "")[:64]
        shown = staff.c.sis_jobs.refresh(staff.c.sis.runs(staff.institution, None, RUNS_SHOWN))
        context = {"runs": shown, "active": any(_active(r) for r in shown),
                   "run_url": run_url, "buckets": BUCKETS}
        if request.headers.get("HX-Request"):  # the table alone, while runs are going
            return render(staff, request, "staff/admin/_sis_runs_table.html", context)
        return render(staff, request, "staff/admin/sis_runs.html", {
            **context, "profiles": staff.c.sis.profiles(staff.institution), "chosen": chosen,
            "limit": staff.c.settings.sis_max_upload_bytes,
        })

    return await page(request, impl)


async def _run_form(staff: Staff) -> FormData:
    return await upload_form(staff, staff.c.settings.sis_max_upload_bytes)


@router.post(f"{BASE}/runs")
async def start_run(request: Request) -> Response:
    """Uploads a file and queues a run of it, as ``POST /bookplate/v1/sis/profiles/{code}/runs``
    does: the file goes to the spool under the upload limit, is checked, stored as a pending
    run and handed to the queue."""

    def impl(staff: Staff, form: FormData | None) -> Response:
        assert form is not None
        need(staff, Action.RUN_SIS)
        code = _code(field(form, "profile", 64))
        _profile(staff, code)
        mode = Mode(_choice(form, "mode", tuple(m.value for m in Mode), "The kind of run"))
        file = uploaded(form)
        name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255]
        jobs = staff.c.sis_jobs
        limit = staff.c.settings.sis_max_upload_bytes
        handle, path = jobs.spool_file()
        copy_upload(file, handle, path, limit)
        try:
            kind = check_upload(path, kind_of(file.content_type, name))
            report = jobs.create(
                staff.institution, code, path, mode=mode, dry_run=bool(form.get("dry_run")),
                actor=f"staff:{staff.actor.primary_id}", source_name=name or f"upload.{kind}",
                kind=kind, move=True)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        jobs.submit(report)
        return see_other(run_url(report.run_id))

    return await page(request, impl, reader=_run_form)


def diff_rows(diff: dict[str, list[Any]] | None) -> list[dict[str, str]]:
    """An update's diff as rows a person reads: field, old, new; of a list field the entries
    taken away and those added."""
    rows = []
    for name, (old, new) in (diff or {}).items():
        listed = isinstance(old, list) and isinstance(new, list)
        rows.append({"field": name, "old": cell_text(old), "new": cell_text(new),
                     "listed": "yes" if listed else ""})
    return rows


@router.get(f"{BASE}/runs/{{raw_id}}")
async def show_run(request: Request, raw_id: str) -> Response:
    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.RUN_SIS)
        report = _run(staff, _run_id(raw_id))
        kind = request.query_params.get("kind", "")
        if kind and kind not in BUCKETS:
            raise Refused(400, "The parameter kind is invalid.")
        raw_page = request.query_params.get("page", "1")
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
            raise Refused(400, "The parameter page is invalid.")
        number = int(raw_page)
        context: dict[str, Any] = {
            "run": report, "buckets": BUCKETS, "run_url": run_url, "kind": kind,
            "names": DRY_BUCKET_NAMES if report.dry_run else BUCKET_NAMES,
            "active": _active(report), "requeueable": report.status in REQUEUEABLE,
        }
        if request.headers.get("HX-Request"):
            return render(staff, request, "staff/admin/_sis_run_summary.html", context)
        items = staff.c.sis.items(report.run_id or 0, kind or None,
                                  (number - 1) * ITEMS_PAGE, ITEMS_PAGE + 1)
        shown = [{**item.to_dict(), "changes": diff_rows(item.to_dict()["diff"])}
                 for item in items[:ITEMS_PAGE]]
        return render(staff, request, "staff/admin/sis_run.html", {
            **context, "items": shown, "page": number, "more": len(items) > ITEMS_PAGE,
        })

    return await page(request, impl)


@router.get(f"{BASE}/runs/{{raw_id}}/export")
async def export_run(request: Request, raw_id: str) -> Response:
    """The run's items (all, or one bucket) as CSV or JSON lines, streamed."""

    def impl(staff: Staff, _: FormData | None) -> Response:
        need(staff, Action.RUN_SIS)
        report = _run(staff, _run_id(raw_id))
        kind = request.query_params.get("kind", "")
        fmt = request.query_params.get("format", "csv")
        if kind and kind not in BUCKETS:
            raise Refused(400, "The parameter kind is invalid.")
        if fmt not in ("csv", "jsonl"):
            raise Refused(400, "The parameter format must be csv or jsonl.")
        chunks = staff.c.sis.export(report.run_id or 0, kind or None, fmt)
        name = f"sis-run-{report.run_id}{'-' + kind if kind else ''}.{fmt}"
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return StreamingResponse(chunks, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"})

    return await page(request, impl)


@router.post(f"{BASE}/runs/{{raw_id}}/requeue")
async def requeue_run(request: Request, raw_id: str) -> Response:
    def impl(staff: Staff, form: FormData | None) -> Response:
        need(staff, Action.RUN_SIS)
        report = _run(staff, _run_id(raw_id))
        staff.c.sis_jobs.requeue(report.run_id or 0)
        return see_other(run_url(report.run_id))

    return await page(request, impl, form=True)
