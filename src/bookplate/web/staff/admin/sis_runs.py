"""``/staff/admin/sis/runs``: uploads that start runs, the runs list and each run's report
with its items, exports and requeue (``c.sis``, ``c.sis_jobs``; docs/admin-ui.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response, StreamingResponse

from bookplate.roles.policy import Action
from bookplate.sis.jobs import FINISHED, REQUEUEABLE
from bookplate.sis.model import (
    BUCKETS,
    Mode,
    Report,
)
from bookplate.sis.report_out import cell_text
from bookplate.sis.sources.formats import kind_of
from bookplate.sis.upload import check_upload
from bookplate.web.staff.admin.common import copy_upload, needs, upload_form, uploaded
from bookplate.web.staff.admin.sis_common import (
    BASE,
    BUCKET_NAMES,
    DRY_BUCKET_NAMES,
    ITEMS_PAGE,
    MAX_PAGE,
    RUNS_SHOWN,
    choice,
    code_of,
    profile_of,
    run_number,
    run_of,
    run_url,
)
from bookplate.web.staff.common import Refused, Staff, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)


def _active(report: Report) -> bool:
    return report.status not in FINISHED and report.status != "interrupted"


@get_page(router, f"{BASE}/runs", needs(Action.RUN_SIS))
def runs(staff: Staff, request: Request) -> Response:
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


async def _run_form(staff: Staff) -> FormData:
    return await upload_form(staff, staff.c.settings.sis_max_upload_bytes)


@post_page(router, f"{BASE}/runs", needs(Action.RUN_SIS), reader=_run_form)
def start_run(staff: Staff, request: Request, form: FormData) -> Response:
    """Uploads a file and queues a run of it, as ``POST /bookplate/v1/sis/profiles/{code}/runs``
    does: the file goes to the spool under the upload limit, is checked, stored as a pending
    run and handed to the queue."""
    code = code_of(field(form, "profile", 64))
    profile_of(staff, code)
    mode = Mode(choice(form, "mode", tuple(m.value for m in Mode), "The kind of run"))
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


def diff_rows(diff: dict[str, list[Any]] | None) -> list[dict[str, str]]:
    """An update's diff as rows a person reads: field, old, new; of a list field the entries
    taken away and those added."""
    rows = []
    for name, (old, new) in (diff or {}).items():
        listed = isinstance(old, list) and isinstance(new, list)
        rows.append({"field": name, "old": cell_text(old), "new": cell_text(new),
                     "listed": "yes" if listed else ""})
    return rows


@get_page(router, f"{BASE}/runs/{{raw_id}}", needs(Action.RUN_SIS))
def show_run(staff: Staff, request: Request, raw_id: str) -> Response:
    report = run_of(staff, run_number(raw_id))
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


@get_page(router, f"{BASE}/runs/{{raw_id}}/export", needs(Action.RUN_SIS))
def export_run(staff: Staff, request: Request, raw_id: str) -> Response:
    """The run's items (all, or one bucket) as CSV or JSON lines, streamed."""
    report = run_of(staff, run_number(raw_id))
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


@post_page(router, f"{BASE}/runs/{{raw_id}}/requeue", needs(Action.RUN_SIS))
def requeue_run(staff: Staff, request: Request, form: FormData, raw_id: str) -> Response:
    report = run_of(staff, run_number(raw_id))
    staff.c.sis_jobs.requeue(report.run_id or 0)
    return see_other(run_url(report.run_id))
