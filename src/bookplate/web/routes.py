"""Sign-in pages: own password, sign-out, change password, password reset by e-mail.

Cookies: ``bp_session`` (the session token; HttpOnly, SameSite=Lax, Secure unless turned off
for plain-http tests) and ``bp_csrf`` (a double-submit token for forms shown before sign-in).
Forms after sign-in carry the session's own CSRF token. Every failure says only
"Authentication failed"; the reason is in the log.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from bookplate.auth.errors import (
    AuthenticationFailed,
    ProfileInvalid,
    ProfileNotFound,
    ResetLinkInvalid,
)
from bookplate.auth.resets import ResetRequest
from bookplate.auth.services import SESSION_COOKIE, LocalPasswordNotAllowed, SessionInfo
from bookplate.bootstrap import Container
from bookplate.errors import BookplateError
from bookplate.users.errors import PasswordRejected
from bookplate.users.model import User
from bookplate.web.landing import home_for
from bookplate.web.threads import run_sign_in

log = structlog.get_logger("bookplate.web")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

CSRF_COOKIE = "bp_csrf"
FAILED = "Authentication failed"
MAX_FORM_BYTES = 2_100_000
HOME = "/auth/me"


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def safe_next(raw: str | None) -> str:
    """Only a same-site relative path: no scheme, host, ``//``, backslash or control
    characters (open-redirect guard)."""
    if not raw or len(raw) > 2000 or not raw.startswith("/") or raw.startswith("//"):
        return HOME
    if "\\" in raw or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return HOME
    return raw


def after_sign_in(c: Container, user: User, next_url: str) -> str:
    """Where a sign-in goes: the page asked for, else staff to /staff/, patrons to HOME."""
    return home_for(user, c.auth.now().date()) if next_url == HOME else next_url


def _set_cookie(request: Request, response: Response, name: str, value: str,
                max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=container(request).settings.session_cookie_secure)


def _csrf_cookie(request: Request) -> str:
    current = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(current) <= 100 and current.replace("-", "").replace("_", "").isalnum():
        return current
    return secrets.token_urlsafe(32)


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200,
            csrf_cookie: str | None = None) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
    if csrf_cookie is not None:
        _set_cookie(request, response, CSRF_COOKIE, csrf_cookie)
    return response


def _failed(request: Request, status: int = 401) -> Response:
    return _render(request, "failed.html", {"message": FAILED}, status)


async def _form(request: Request) -> FormData | None:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        return None
    try:
        return await request.form(max_files=0, max_fields=20)
    except Exception:  # any unreadable form is refused the same way
        log.info("form_unreadable", path=request.url.path)
        return None


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _double_submit_ok(request: Request, form: FormData) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = _field(form, "csrf_token")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def _session(request: Request) -> SessionInfo | None:
    return container(request).auth.session(request.cookies.get(SESSION_COOKIE))


def _session_csrf_ok(info: SessionInfo, form: FormData) -> bool:
    return hmac.compare_digest(info.session.csrf.encode(), _field(form, "csrf_token").encode())


def _institutions(c: Container) -> list[Any]:
    with c.uow_factory() as uow:
        return list(uow.institutions.list())


def _login_page(request: Request, *, institution: str | None, next_url: str, username: str = "",
                error: str | None = None, status: int = 200) -> Response:
    c = container(request)
    institutions = _institutions(c)
    codes = [i.code for i in institutions]
    chosen = institution if institution in codes else (codes[0] if codes else "")
    csrf = _csrf_cookie(request)
    context = {
        "csrf": csrf, "next": next_url, "institutions": institutions, "institution": chosen,
        "username": username, "error": error,
        "methods": [*c.login_methods.for_institution(chosen or None),
                    *c.external.login_methods(chosen or None)],
    }
    return _render(request, "login.html", context, status, csrf_cookie=csrf)


@router.get("/auth/login")
def login_page(request: Request) -> Response:
    return _login_page(request, institution=request.query_params.get("institution"),
                       next_url=safe_next(request.query_params.get("next")))


@router.post("/auth/login")
async def login(request: Request) -> Response:
    c = container(request)
    form = await _form(request)
    if form is None or not _double_submit_ok(request, form):
        log.info("login_refused", reason="missing or wrong CSRF token, or unreadable form")
        return _failed(request, 403 if form is not None else 400)
    next_url = safe_next(_field(form, "next"))
    institution = _field(form, "institution")
    username = _field(form, "username")[:255]
    client = request.client.host if request.client else None
    method = _field(form, "method") or "local"
    kind, colon, code = method.partition(":")
    try:
        # "ldap:CODE": the password form also signs in through a password method's profile
        if colon and kind in c.external.password_methods():
            user = await run_sign_in(request, c.external.password_login, kind, institution,
                                     code, username, _field(form, "password"), address=client)
        else:
            method = kind = "local"
            user = await run_sign_in(request, c.auth.password_login, institution, username,
                                     _field(form, "password"), address=client)
    except (AuthenticationFailed, ProfileNotFound, ProfileInvalid) as exc:
        log.info("login_refused", method=method[:70], kind=type(exc).__name__,
                 reason=getattr(exc, "reason", str(exc)))
        return _login_page(request, institution=institution, next_url=next_url,
                           username=username, error=FAILED, status=401)
    # A new session id at every sign-in; whatever session cookie came in is ended.
    c.auth.end_session(request.cookies.get(SESSION_COOKIE))
    token, _ = c.auth.start_session(user, kind)
    target = "/auth/password" if user.force_password_change else after_sign_in(c, user, next_url)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, c.auth.session_seconds)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/auth/logout")
async def logout(request: Request) -> Response:
    info = _session(request)
    form = await _form(request)
    if info is None or form is None or not _session_csrf_ok(info, form):
        return _failed(request, 403)
    c = container(request)
    c.auth.end_session(request.cookies.get(SESSION_COOKIE))  # ended here first, whatever next
    target = "/auth/login"
    if info.session.method in ("saml", "cas", "oidc"):  # single logout where the profile has it
        try:
            found = await run_sign_in(request, c.external.logout_url, info.session.token_hash)
        except Exception as exc:  # the provider's side must not keep anyone signed in here
            log.warning("single_logout_failed", method=info.session.method,
                        error=f"{type(exc).__name__}: {str(exc)[:200]}")
            found = None
        target = found or target
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/auth/me")
def me(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/auth/login?next=/auth/me", status_code=303)
    return _render(request, "me.html", {
        "user": info.user, "csrf": info.session.csrf,
        "may_change_password": container(request).auth.local_password_allowed(info.user)})


PROVIDER_ONLY = ("This account signs in through your institution's identity provider: its "
                 "password is changed there, not here.")
RULES = ("The password must have at least 8 characters, must not contain the user name and "
         "must not be a common password.")


@router.get("/auth/password")
def password_page(request: Request) -> Response:
    info = _session(request)
    if info is None:
        return RedirectResponse("/auth/login?next=/auth/password", status_code=303)
    if not container(request).auth.local_password_allowed(info.user):
        return _render(request, "failed.html", {"message": PROVIDER_ONLY}, 403)
    return _render(request, "password.html", {
        "csrf": info.session.csrf, "action": "/auth/password", "ask_current": True,
        "forced": bool(info.user.force_password_change),
    })


def _new_password(form: FormData) -> tuple[str | None, str | None]:
    new = _field(form, "new_password")
    if new != _field(form, "confirm"):
        return None, "The two passwords differ."
    return new, None


@router.post("/auth/password")
async def change_password(request: Request) -> Response:
    """The signed-in user's own password: the current one must be given (a wrong one counts
    towards the lockout); every other session of the user ends."""
    c = container(request)
    info = _session(request)
    form = await _form(request)
    if info is None or form is None or not _session_csrf_ok(info, form):
        return _failed(request, 403)
    new, error = _new_password(form)
    context: dict[str, Any] = {"csrf": info.session.csrf, "action": "/auth/password",
                               "ask_current": True}
    status = 400
    if new is not None:
        try:
            await run_sign_in(request, c.auth.change_own_password, info,
                              _field(form, "current_password"), new)
            return _render(request, "password.html", {**context, "done": True})
        except LocalPasswordNotAllowed:
            return _render(request, "failed.html", {"message": PROVIDER_ONLY}, 403)
        except AuthenticationFailed as exc:
            log.info("password_change_refused", reason=exc.reason)
            error, status = "The current password is not correct.", 401
        except PasswordRejected:
            error = RULES
        except BookplateError as exc:
            log.info("password_change_refused", reason=str(exc))
            error = "The password could not be changed."
    return _render(request, "password.html", {**context, "error": error}, status)


@router.get("/auth/forgot")
def forgot_page(request: Request) -> Response:
    csrf = _csrf_cookie(request)
    institution = request.query_params.get("institution", "")[:64]
    if not institution:
        codes = [i.code for i in _institutions(container(request))]
        institution = codes[0] if len(codes) == 1 else ""
    return _render(request, "forgot.html", {"csrf": csrf, "institution": institution},
                   csrf_cookie=csrf)


@router.post("/auth/forgot")
async def forgot(request: Request) -> Response:
    form = await _form(request)
    if form is None or not _double_submit_ok(request, form):
        return _failed(request, 403)
    c = container(request)
    client = request.client.host if request.client else None
    try:
        outcome = await run_sign_in(request, c.resets.request_reset,
                                    _field(form, "institution")[:64],
                                    _field(form, "username")[:255], client)
    except Exception:  # must not tell whether the user exists
        log.exception("reset_request_failed")
        outcome = ResetRequest.QUEUED
    if outcome == ResetRequest.LIMITED:  # counted per login name and address: tells nothing
        response = _render(request, "forgot.html", {"limited": True, "csrf": ""}, 429)
        response.headers["Retry-After"] = str(c.resets.reset_limit_window_seconds)
        return response
    return _render(request, "forgot.html", {"sent": True, "csrf": ""})


@router.get("/auth/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    if not container(request).resets.reset_link_valid(token):
        return _render(request, "failed.html",
                       {"message": "This link is invalid or has expired."}, 400)
    csrf = _csrf_cookie(request)
    return _render(request, "password.html", {"csrf": csrf, "action": f"/auth/reset/{token}"},
                   csrf_cookie=csrf)


@router.post("/auth/reset/{token}")
async def reset(request: Request, token: str) -> Response:
    form = await _form(request)
    if form is None or not _double_submit_ok(request, form):
        return _failed(request, 403)
    c = container(request)
    new, error = _new_password(form)
    context: dict[str, Any] = {"csrf": _field(form, "csrf_token"),
                               "action": f"/auth/reset/{token}"}
    if new is not None:
        try:
            await run_sign_in(request, c.resets.reset_password, token, new)
            return _render(request, "password.html", {**context, "done": True,
                                                      "login_link": True})
        except ResetLinkInvalid:
            return _render(request, "failed.html",
                           {"message": "This link is invalid or has expired."}, 400)
        except PasswordRejected:
            error = RULES
        except BookplateError as exc:
            log.info("reset_refused", reason=str(exc))
            error = "The password could not be changed."
    return _render(request, "password.html", {**context, "error": error}, 400)
