"""``/staff/admin/logins`` (the staff login report: who signed in, when, by which method,
the failures and lockouts, from ``login_events``) and ``/staff/admin/history`` (the history
of configuration changes, from the audit log: ``roles.history.ConfigHistory``). Both filter
by dates, person and outcome or area, page by 50, and export what the filter selects as CSV.
Both need the policy's ``configure_user_management`` (General System Administrator, User
Administrator)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from bookplate.roles.history import AREA_LABELS, AREAS, ConfigHistory, HistoryQuery
from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import needs
from bookplate.web.staff.common import Refused, Staff, render
from bookplate.web.staff.pages import get_page

router = APIRouter(include_in_schema=False)

LOGINS = "/staff/admin/logins"
HISTORY = "/staff/admin/history"
PAGE = 50
EXPORT_MAX = 100_000
OUTCOMES = {"": None, "success": True, "failure": False}


def _text(request: Request, name: str, limit: int = 255) -> str:
    value = request.query_params.get(name, "")
    if len(value) > limit or any(not ch.isprintable() for ch in value):
        raise Refused(400, f"The filter {name} is not valid.")
    return value.strip()


def _date(request: Request, name: str) -> date | None:
    value = _text(request, name, 10)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"The date {value} is not a date (YYYY-MM-DD).") from None


def _offset(request: Request) -> int:
    value = _text(request, "page", 6) or "1"
    if not value.isdigit() or int(value) < 1:
        raise Refused(400, "The page number is not valid.")
    return (int(value) - 1) * PAGE


def _csv(header: list[str], rows: Iterator[list[str]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        # A cell that a spreadsheet would run as a formula is written as text.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c
                         for c in row])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _query(request: Request) -> dict[str, str]:
    """The filter as it was asked, for the form and the paging links."""
    return {k: _text(request, k) for k in ("from", "to", "user", "outcome", "area")}


@get_page(router, LOGINS, needs(Action.CONFIGURE))
def logins(staff: Staff, request: Request) -> Response:
    asked = _query(request)
    if asked["outcome"] not in OUTCOMES:
        raise Refused(400, "The outcome must be success or failure.")
    start, end = _date(request, "from"), _date(request, "to")
    export = request.query_params.get("format") == "csv"
    limit, offset = (EXPORT_MAX, 0) if export else (PAGE, _offset(request))
    events, total = staff.c.auth.login_report(
        staff.institution, start, end, OUTCOMES[asked["outcome"]], limit, offset,
        user=asked["user"] or None)
    if export:
        return _csv(["at", "login", "primary_id", "method", "outcome", "reason", "address"],
                    ([e.at.isoformat(), e.login_name, e.primary_id or "", e.method,
                      "success" if e.success else "failure", e.reason or "",
                      e.address or ""] for e in events), "staff-logins.csv")
    return render(staff, request, "staff/admin/logins.html", {
        "events": events, "total": total, "asked": asked, "base": LOGINS,
        "offset": offset, "size": PAGE,
    })


def _detail(detail: Any) -> str:
    if not detail:
        return ""
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 2000 else text[:2000] + "…"


@get_page(router, HISTORY, needs(Action.CONFIGURE))
def history(staff: Staff, request: Request) -> Response:
    asked = _query(request)
    if asked["area"] and asked["area"] not in AREAS:
        raise Refused(400, "Choose one of the areas of the list.")
    query = HistoryQuery(asked["area"] or None, asked["user"] or None,
                         _date(request, "from"), _date(request, "to"))
    export = request.query_params.get("format") == "csv"
    limit, offset = (EXPORT_MAX, 0) if export else (PAGE, _offset(request))
    rows, total = ConfigHistory(staff.c.uow_factory).changes(staff.actor, query, limit,
                                                             offset)
    if export:
        return _csv(["at", "by", "area", "action", "target", "detail"],
                    ([r["at"].isoformat() if r["at"] else "", r["actor"] or "", r["area"],
                      r["action"], r["target"], _detail(r["detail"])] for r in rows),
                    "configuration-history.csv")
    for r in rows:
        r["shown"] = _detail(r["detail"])
    return render(staff, request, "staff/admin/history.html", {
        "rows": rows, "total": total, "asked": asked, "base": HISTORY,
        "offset": offset, "size": PAGE, "areas": AREA_LABELS,
    })
