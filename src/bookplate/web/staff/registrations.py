"""``/staff/registrations``: the queue of self-registrations (docs/patron.md). Approve (a real
user group and expiry), merge into an existing user (found with the staff search), reject
(optionally telling the person). The actions are ``auth.registration_queue``'s, which write
through the same policy as the API and the other staff pages; the page itself needs the
right to edit patrons in the institution."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.auth.errors import RegistrationNotPending
from bookplate.errors import ConflictError, InputError
from bookplate.roles.model import Privilege
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.users.queries import UserSearch, box_conditions
from bookplate.web.staff.common import Refused, Staff, describe, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)
DONE = {"approved": "Approved.", "merged": "Merged.", "rejected": "Rejected."}


def _queue_url(done: str, who: str) -> str:
    return "/staff/registrations?" + urlencode({"done": done, "user": who})


def _one_url(primary_id: str) -> str:
    return f"/staff/registrations/{quote(primary_id, safe='')}"


def _require(staff: Staff) -> None:
    staff.require(Privilege.EDIT_PATRONS)


def _groups(staff: Staff) -> list[tuple[str, str]]:
    book = staff.book()
    pending = staff.c.settings.self_registration.get(staff.institution)
    allowed = sorted(book.group_record_types.get("PUBLIC", frozenset()))
    return [(g, describe(book, "UserGroups", g)) for g in allowed
            if pending is None or g != pending.pending_group]


@get_page(router, "/staff/registrations", _require)
def queue_page(staff: Staff, request: Request) -> Response:
    done = request.query_params.get("done", "")
    rows = staff.c.registration_queue.pending(staff.actor)
    return render(staff, request, "staff/registrations.html", {
        "rows": rows, "done": DONE.get(done, ""),
        "done_user": request.query_params.get("user", "")[:255]})


def _merge_candidates(staff: Staff, q: str, pending: User) -> list[User]:
    if not q:
        return []
    if len(q) > 200 or not q.isprintable():
        raise Refused(400, "The search text is too long or holds invalid characters.")
    found = staff.c.staff.search(staff.actor, UserSearch(
        staff.institution, box_conditions(q), limit=20)).users if box_conditions(q) else []
    try:
        exact = staff.c.staff.get(staff.actor, q)
        found = [exact, *[u for u in found if u.primary_id != exact.primary_id]]
    except UserNotFound:
        pass
    return [u for u in found if u.primary_id != pending.primary_id]


def _one_page(staff: Staff, request: Request, primary_id: str, *, error: str = "",
              about: str = "", status: int = 200) -> Response:
    try:
        registration, user = staff.c.registration_queue.one(staff.actor, primary_id)
    except RegistrationNotPending as exc:
        raise Refused(404, str(exc)) from None
    q = request.query_params.get("q", "").strip()
    return render(staff, request, "staff/registration.html", {
        "reg": registration, "user": user, "groups": _groups(staff),
        "book": staff.book(), "describe": describe, "q": q,
        "candidates": _merge_candidates(staff, q, user), "error": error, "about": about,
        "today": staff.today.isoformat()}, status)


@get_page(router, "/staff/registrations/{primary_id}", _require)
def registration_page(staff: Staff, request: Request, primary_id: str) -> Response:
    return _one_page(staff, request, primary_id)


def _expiry(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refused(400, "The expiry date is not a date (YYYY-MM-DD).") from None


def _act(staff: Staff, request: Request, primary_id: str, action: Any, about: str) -> Response:
    """One action; a refusal of the services is shown on the registration's page."""
    try:
        return action()  # type: ignore[no-any-return]  # each action returns a Response
    except RegistrationNotPending as exc:
        raise Refused(404, str(exc)) from None
    except (InputError, ConflictError, UserNotFound) as exc:
        if isinstance(exc, UserNotFound) and about != "into":
            raise
        return _one_page(staff, request, primary_id, error=str(exc), about=about, status=400)


@post_page(router, "/staff/registrations/{primary_id}/approve", _require)
def approve(staff: Staff, request: Request, form: FormData, primary_id: str) -> Response:
    group = field(form, "user_group", 255)
    expiry = _expiry(field(form, "expiry_date", 20))
    if expiry is not None and expiry < staff.today:
        return _one_page(staff, request, primary_id, about="expiry_date", status=400,
                         error="The expiry date must not be in the past.")

    def action() -> Response:
        staff.c.registration_queue.approve(staff.actor, primary_id, group, expiry)
        return see_other(_queue_url("approved", primary_id))

    return _act(staff, request, primary_id, action, "user_group")


@post_page(router, "/staff/registrations/{primary_id}/merge", _require)
def merge(staff: Staff, request: Request, form: FormData, primary_id: str) -> Response:
    into = field(form, "into", 255)
    if not into:
        return _one_page(staff, request, primary_id, about="into", status=400,
                         error="Choose the user to merge into.")

    def action() -> Response:
        staff.c.registration_queue.merge(staff.actor, primary_id, into)
        return see_other(_queue_url("merged", into))

    return _act(staff, request, primary_id, action, "into")


@post_page(router, "/staff/registrations/{primary_id}/reject", _require)
def reject(staff: Staff, request: Request, form: FormData, primary_id: str) -> Response:
    notify = field(form, "notify", 10) in ("1", "on")

    def action() -> Response:
        staff.c.registration_queue.reject(staff.actor, primary_id, notify=notify)
        return see_other(_queue_url("rejected", primary_id))

    return _act(staff, request, primary_id, action, "")
