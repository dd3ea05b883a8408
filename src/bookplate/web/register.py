"""Self-registration pages (docs/patron.md): the public form at ``/register`` and the
confirmation link ``/register/confirm/{token}``.

Shown only for institutions that switched it on (``Settings.self_registration``); a 404 page
elsewhere. The forms use the double-submit CSRF cookie of the sign-in and reset forms
(``web.routes``). The form's answer after it is sent is the same whether the address is
known: "check your mail". Opening the link shows a button; only pressing it (a POST)
confirms, so a mail scanner that fetches the link uses nothing.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from bookplate.auth.errors import RegistrationClosed, RegistrationInvalid, RegistrationLinkInvalid
from bookplate.auth.registrations import RegisterOutcome, RegistrationForm
from bookplate.bootstrap import Container
from bookplate.web.patron import render
from bookplate.web.routes import CSRF_COOKIE, MAX_FORM_BYTES, _csrf_cookie, _double_submit_ok
from bookplate.web.staff.common import Refused, field

log = structlog.get_logger("bookplate.web.register")
router = APIRouter(include_in_schema=False)

FIELDS = ("first_name", "last_name", "email")
LINK_INVALID = "This confirmation link is invalid, has been used or has expired."


def _container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200,
          csrf: str | None = None) -> Response:
    response = render(None, name, {"request": request, "form_csrf": csrf or "", **context},
                      status)
    if csrf is not None:
        response.set_cookie(CSRF_COOKIE, csrf, path="/", httponly=True, samesite="lax",
                            secure=_container(request).settings.session_cookie_secure)
    return response


def _closed(request: Request) -> Response:
    return _page(request, "patron/register_closed.html", {}, 404)


def _institution(c: Container, raw: str) -> str:
    """The institution asked for, or the only one with registration switched on."""
    if raw:
        return raw[:64]
    enabled = list(c.settings.self_registration)
    return enabled[0] if len(enabled) == 1 else ""


async def _form(request: Request) -> FormData:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise Refused(400, "The form could not be read.")
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # any unreadable form is refused the same way
        raise Refused(400, "The form could not be read.") from None
    if not _double_submit_ok(request, form):
        raise Refused(403, "The form has expired. Reload the page and try again.")
    return form


def _refused(request: Request, exc: Refused) -> Response:
    return _page(request, "patron/register_refused.html", {"message": exc.message},
                 exc.status)


@router.get("/register")
async def register_page(request: Request) -> Response:
    c = _container(request)
    institution = _institution(c, request.query_params.get("institution", ""))
    try:
        await run_in_threadpool(c.registrations.policy, institution)
    except RegistrationClosed:
        return _closed(request)
    return _page(request, "patron/register.html", {
        "institution": institution, "values": {}, "errors": {}},
        csrf=_csrf_cookie(request))


@router.post("/register")
async def register(request: Request) -> Response:
    c = _container(request)
    try:
        form = await _form(request)
        institution = field(form, "institution", 64)
        values = {name: field(form, name, 1000) for name in FIELDS}
        sent = RegistrationForm(values["first_name"], values["last_name"], values["email"],
                                _secret(form, "password"), _secret(form, "confirm"))
    except Refused as exc:
        return _refused(request, exc)
    client = request.client.host if request.client else None
    try:
        outcome = await run_in_threadpool(c.registrations.register, institution, sent, client)
    except RegistrationClosed:
        return _closed(request)
    except RegistrationInvalid as exc:
        return _page(request, "patron/register.html", {
            "institution": institution, "values": values, "errors": exc.errors},
            400, csrf=_csrf_cookie(request))
    if outcome == RegisterOutcome.LIMITED:
        response = _page(request, "patron/register_sent.html", {"limited": True}, 429)
        response.headers["Retry-After"] = str(c.registrations.window_seconds)
        return response
    return _page(request, "patron/register_sent.html", {"limited": False})


def _secret(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > 1024:
        raise Refused(400, "The password is too long.")
    return value


@router.get("/register/confirm/{token}")
async def confirm_page(request: Request, token: str) -> Response:
    c = _container(request)
    if not await run_in_threadpool(c.registrations.link_valid, token):
        return _page(request, "patron/register_refused.html", {"message": LINK_INVALID}, 400)
    return _page(request, "patron/register_confirm.html", {"token": token},
                 csrf=_csrf_cookie(request))


@router.post("/register/confirm/{token}")
async def confirm(request: Request, token: str) -> Response:
    c = _container(request)
    try:
        await _form(request)
    except Refused as exc:
        return _refused(request, exc)
    try:
        user = await run_in_threadpool(c.registrations.confirm, token)
    except RegistrationLinkInvalid:
        return _page(request, "patron/register_refused.html", {"message": LINK_INVALID}, 400)
    response = _page(request, "patron/register_confirmed.html", {"user": user})
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
