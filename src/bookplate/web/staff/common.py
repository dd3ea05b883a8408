"""What every staff page shares: who is signed in, what they may do, the CSRF check, rendering.

A staff page needs a live web session whose user holds at least one staff menu
(``roles.staff.capabilities``: the same data as ``GET /bookplate/v1/me/capabilities``).
Without a session the browser is sent to sign in; a signed-in person without the page's
privilege gets the 403 page, for a GET and for a POST alike, whatever the menus showed.

Forms carry the session's own CSRF token (the scheme of the sign-in pages, ``web.routes``).
Errors of the services are shown on the page in Bookplate's own wording (which is Alma's),
never as a traceback or an API error body.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from bookplate.auth.services import SESSION_COOKIE, SessionInfo
from bookplate.bootstrap import Container
from bookplate.errors import BookplateError
from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor, Privilege
from bookplate.roles.policy import actor_for, all_privileges, where_held
from bookplate.roles.staff import capabilities
from bookplate.users.errors import (
    DuplicateId,
    IllegalUserGroup,
    RepeatedIdentifier,
    UserNotFound,
)
from bookplate.users.validation import CodeBook

log = structlog.get_logger("bookplate.web.staff")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
MAX_FORM_BYTES = 100_000
MAX_FIELDS = 200

# Menus of the capabilities and the staff page that serves each (None: API only for now).
MENU_PAGES: dict[str, tuple[str, str | None]] = {
    "users": ("Find and manage users", "/staff/users"),
    "roles": ("Roles", "/staff/roles"),
    "user-management-configuration": ("Code tables", "/staff/admin/codes"),
    "integration-profiles": ("Integration profiles", "/staff/admin/sis/profiles"),
    "sis-jobs": ("SIS jobs", "/staff/admin/sis/runs"),
    "api-keys": ("API keys", "/staff/admin/keys"),
    "sign-in-profiles": ("Sign-in profiles", "/staff/admin/sign-in"),
}


class Refused(Exception):
    """A staff page refused: shown as the error page with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Staff:
    """The signed-in staff member of one request."""

    request: Request
    c: Container
    info: SessionInfo
    actor: Actor
    caps: dict[str, Any]

    @property
    def csrf(self) -> str:
        return self.info.session.csrf

    @property
    def institution(self) -> str:
        return self.actor.institution

    @property
    def today(self) -> date:
        return self.c.auth.now().date()

    @property
    def location(self) -> str | None:
        """Where this person works: the institution when they hold user privileges there,
        else the first library where they do (a desk operator acts at their library)."""
        return where_held(self.actor, Privilege.VIEW_USERS)

    def holds(self, privilege: Privilege) -> bool:
        return privilege in all_privileges(self.actor)

    def require(self, privilege: Privilege) -> None:
        if not self.holds(privilege):
            raise Refused(403, "You are not allowed to use this page.")

    def book(self) -> CodeBook:
        return self.c.users.code_book(self.institution)


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def user_url(primary_id: str, tab: str | None = None) -> str:
    url = f"/staff/users/{quote(primary_id, safe='')}"
    return f"{url}?tab={tab}" if tab else url


def describe(book: CodeBook, table: str, code: str | None) -> str:
    """A code shown with its description from the institution's code table."""
    if not code:
        return ""
    text = book.describe(table, code)
    return text if text and text != code else code


def show_date(value: date | datetime | None) -> str:
    """Dates as the institution shows them (``Settings.staff_date_format``, set per process
    by ``install``)."""
    if value is None:
        return ""
    fmt = templates.env.globals.get("date_format", "%Y-%m-%d")
    if isinstance(value, datetime):
        return value.strftime(f"{fmt} %H:%M")
    return value.strftime(str(fmt))


templates.env.filters["show_date"] = show_date
templates.env.globals["user_url"] = user_url
templates.env.globals["menu_pages"] = MENU_PAGES


#: What every staff and patron page carries: never cached (it shows a person's record), never
#: framed, and nothing loaded or posted from elsewhere.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def template_page(request: Request, name: str, context: dict[str, Any],
                  status: int) -> Response:
    """The template ``name`` rendered with ``context``, with the pages' headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def render(staff: Staff | None, request: Request, name: str, context: dict[str, Any],
           status: int = 200) -> Response:
    page = {"staff": staff, "csrf": staff.csrf if staff else "",
            "menus": staff.caps["menus"] if staff else [], **context}
    return template_page(request, name, page, status)


def refused_page(staff: Staff | None, request: Request, exc: Refused) -> Response:
    title = {403: "Not allowed", 404: "Not found"}.get(exc.status, "Could not do this")
    return render(staff, request, "staff/refused.html", {"message": exc.message, "title": title},
                  exc.status)


def signed_in_staff(request: Request) -> Staff | Response:
    """The staff member behind the session; a redirect to sign in when there is no session;
    the 403 page for someone who holds no staff menu (a patron)."""
    c = container(request)
    info = c.auth.session(request.cookies.get(SESSION_COOKIE))
    if info is None:
        target = request.url.path if request.method == "GET" else "/staff/"
        return RedirectResponse(f"/auth/login?next={quote(target, safe='/')}", status_code=303)
    actor = actor_for(info.user, c.auth.now().date())
    caps = capabilities(actor)
    staff = Staff(request, c, info, actor, caps)
    if not caps["menus"]:
        return refused_page(None, request, Refused(
            403, "These pages are for library staff. Your own account is on your page."))
    return staff


Impl = Callable[["Staff", FormData | None], Response]
Reader = Callable[["Staff"], Awaitable[FormData]]


async def page(request: Request, impl: Impl, *, form: bool = False,
               reader: Reader | None = None) -> Response:
    """Runs a staff page: ``impl(staff, form)`` in a worker thread (it reads and writes the
    database), after the sign-in check and, for a POST, the form's CSRF check. Refusals of
    the page or of the policy become the 403 page; a user that is not there, the 404 page;
    any other error of the services, a 400 page with its message. ``reader`` reads a form
    of another kind (one with a file: ``web.staff.admin.common.upload_form``)."""
    staff = await run_in_threadpool(signed_in_staff, request)
    if isinstance(staff, Response):
        return staff
    try:
        data = await (reader or read_form)(staff) if form or reader else None
        try:
            return await run_in_threadpool(impl, staff, data)
        finally:
            if data is not None:
                await data.close()
    except Refused as exc:
        return refused_page(staff, request, exc)
    except PermissionDenied as exc:
        log.info("staff_page_refused", path=request.url.path, reason=exc.reason,
                 actor=staff.actor.primary_id)
        return refused_page(staff, request, Refused(403, "You are not allowed to do this."))
    except UserNotFound as exc:
        return refused_page(staff, request, Refused(404, str(exc)))
    except BookplateError as exc:
        return refused_page(staff, request, Refused(400, str(exc)))


async def read_form(staff: Staff, *, max_fields: int = MAX_FIELDS,
                    max_bytes: int = MAX_FORM_BYTES) -> FormData:
    """The posted form, after the CSRF check; refused (403/400) otherwise. A page whose form
    has many rows (a role profile) passes higher limits."""
    request = staff.request
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > max_bytes:
        raise Refused(400, "The form could not be read.")
    try:
        form = await request.form(max_files=0, max_fields=max_fields)
    except Exception:  # any unreadable form is refused the same way
        raise Refused(400, "The form could not be read.") from None
    sent = field(form, "csrf_token")
    if not sent or not hmac.compare_digest(sent.encode(), staff.csrf.encode()):
        log.info("staff_form_refused", reason="missing or wrong CSRF token",
                 path=request.url.path)
        raise Refused(403, "The form has expired. Reload the page and try again.")
    return form


def field(form: FormData, name: str, limit: int = 1000) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > limit:
        raise Refused(400, f"The field {name} is too long.")
    return value.strip()


# The form field a service error is about, by the code-table kind its message names.
_CODE_KIND_FIELDS = {
    "user group": "user_group", "email": "email_type", "phone": "phone_type",
    "address": "address_type", "country": "country", "identifier": "id_type",
    "note": "note_type", "block": "block_type", "block description": "block_description",
    "statistic category": "statistic_category", "statistic category type": "category_type",
    "user title": "user_title", "job category": "job_category", "gender": "gender",
    "campus": "campus_code", "preferred language": "preferred_language", "status": "status",
    "record": "record_type",
}
# The new-user form names two fields differently from the record.
_NEW_FORM_NAMES = {"email_address": "email", "value": "barcode", "id_type": "barcode"}


def error_field(exc: BookplateError, names: Iterable[str]) -> str | None:
    """The field of a form (one of ``names``) that a service error is about, so the page
    shows the message beside it too; None when the error is about the record as a whole or
    about something the form does not show."""
    shown = set(names)
    candidates: list[str] = []
    path = getattr(exc, "field", None)
    if isinstance(path, str):
        candidates.append(re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1])
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str) and kind in _CODE_KIND_FIELDS:
        candidates.append(_CODE_KIND_FIELDS[kind])
    if isinstance(exc, IllegalUserGroup):
        candidates.append("user_group")
    if isinstance(exc, DuplicateId):
        candidates.append("primary_id" if exc.id_type == "primary_id" else "value")
    if isinstance(exc, RepeatedIdentifier):
        candidates.append("value")
    for name in candidates:
        for known in (name, _NEW_FORM_NAMES.get(name, "")):
            if known in shown:
                return known
    return None


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
