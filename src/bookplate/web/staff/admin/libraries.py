"""``/staff/admin/libraries``: the institution's libraries and their circulation desks. List,
add, edit (name, description), disable and enable a library; add, rename, disable and enable
its desks. Every change goes through ``c.roles.put_library`` (``roles.admin.RolesAdmin``, the
service of the roles API, the ``libraries`` CLI and ``config import``: checked, audited as
``roles.library.put``), behind the policy's ``configure_user_management``.

A disabled library or desk keeps the roles that name it valid; it is left out of
``GET /almaws/v1/conf/libraries`` and of ``config export`` (docs/admin-ui.md)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.errors import BookplateError
from bookplate.roles.model import Desk, Library
from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import code_in_path, needs, saved_notice
from bookplate.web.staff.common import Refused, Staff, field, render, see_other
from bookplate.web.staff.pages import get_page, post_page

router = APIRouter(include_in_schema=False)

BASE = "/staff/admin/libraries"


def _code(code: str) -> str:
    return code_in_path(code, "library")


def _who(staff: Staff) -> str:
    return f"staff:{staff.actor.primary_id}"


def _libraries(staff: Staff) -> dict[str, Library]:
    return staff.c.roles.config(staff.institution).libraries


def _list_page(staff: Staff, request: Request, *, error: str = "", status: int = 200,
               form: dict[str, str] | None = None) -> Response:
    return render(staff, request, "staff/admin/libraries.html", {
        "libraries": sorted(_libraries(staff).values(), key=lambda lib: lib.code),
        "base": BASE, "error": error, "form": form or {},
    }, status)


def _library_page(staff: Staff, request: Request, code: str, *, error: str = "",
                  notice: str = "", status: int = 200) -> Response:
    library = _libraries(staff).get(code)
    if library is None:
        raise Refused(404, f"No library {code}.")
    return render(staff, request, "staff/admin/library.html", {
        "library": library, "desks": library.all_desks(), "base": BASE,
        "error": error, "notice": notice,
    }, status)


def _save(staff: Staff, library: Library) -> str:
    """The service's refusal in words, or "" when saved."""
    try:
        staff.c.roles.put_library(staff.institution, library, _who(staff), staff.actor,
                                  exact=True)
    except BookplateError as exc:
        return str(exc)
    return ""


def _stored(staff: Staff, code: str) -> Library:
    library = _libraries(staff).get(_code(code))
    if library is None:
        raise Refused(404, f"No library {code}.")
    return library


def _saved_or_page(staff: Staff, request: Request, library: Library, done: str) -> Response:
    """A change of a stored library (its own form or one desk's): saved, then ``done``;
    refused, the library's page again with the reason."""
    error = _save(staff, library)
    if error:
        return _library_page(staff, request, library.code, error=error, status=400)
    return see_other(done)


@get_page(router, BASE, needs(Action.CONFIGURE))
def libraries(staff: Staff, request: Request) -> Response:
    return _list_page(staff, request)


@post_page(router, BASE, needs(Action.CONFIGURE))
def add_library(staff: Staff, request: Request, form: FormData) -> Response:
    code, name = field(form, "code", 64), field(form, "name", 255)
    description = field(form, "description", 255)
    sent = {"code": code, "name": name, "description": description}
    if code in _libraries(staff):
        return _list_page(staff, request, status=400, form=sent,
                          error=f"A library {code} exists already; edit it below.")
    error = _save(staff, Library.with_desks(code, name, [], description))
    if error:
        return _list_page(staff, request, error=error, status=400, form=sent)
    return see_other(f"{BASE}/{quote(code)}?" + urlencode({"saved": code}))


@get_page(router, f"{BASE}/{{code}}", needs(Action.CONFIGURE))
def show_library(staff: Staff, request: Request, code: str) -> Response:
    return _library_page(staff, request, _code(code), notice=saved_notice(request))


@post_page(router, f"{BASE}/{{code}}", needs(Action.CONFIGURE))
def edit_library(staff: Staff, request: Request, form: FormData, code: str) -> Response:
    """The library's own form (name, description, enabled)."""
    old = _stored(staff, code)
    new = Library.with_desks(code, field(form, "name", 255), old.all_desks(),
                             field(form, "description", 255), bool(form.get("enabled")))
    return _saved_or_page(staff, request, new,
                          f"{BASE}/{quote(code)}?" + urlencode({"saved": code}))


@post_page(router, f"{BASE}/{{code}}/desks", needs(Action.CONFIGURE))
def save_desk(staff: Staff, request: Request, form: FormData, code: str) -> Response:
    """One desk: added when new, renamed or disabled/enabled otherwise (the form of its row)."""
    old = _stored(staff, code)
    desk_code = field(form, "code", 64)
    desk = Desk(desk_code, field(form, "name", 255) or desk_code, bool(form.get("enabled")))
    desks = [d for d in old.all_desks() if d.code != desk_code] + [desk]
    query = urlencode({"saved": f"{code}/{desk_code}"})
    return _saved_or_page(
        staff, request, Library.with_desks(code, old.name, desks, old.description, old.enabled),
        f"{BASE}/{quote(code)}?{query}#desk-{quote(desk_code)}")
