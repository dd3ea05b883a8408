"""External sign-in routes: SAML (metadata, start, ACS), CAS (login, callback) and OIDC (start,
callback). LDAP goes through the password form (``routes.login``, method choice).

A start stores the protocol state (SAML request ID, OIDC state/nonce/PKCE verifier, where to go
afterwards) server-side, under a random value in the ``bp_sso`` cookie; the return leg reads it
back. Sign-in ends with a brand-new session (no fixation). Every failure is the same
"Authentication failed" page; the reason is in the log. Where to go afterwards is a same-site
relative path only (``safe_next``); the RelayState an IdP posts back is never followed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bookplate.auth.errors import (
    AuthenticationFailed,
    LoginDenied,
    ProfileInvalid,
    ProfileNotFound,
)
from bookplate.auth.model import Method
from bookplate.auth.ports import SessionLink
from bookplate.auth.services import SESSION_COOKIE
from bookplate.users.model import User
from bookplate.web.routes import (
    CSRF_COOKIE,
    _failed,
    _field,
    _form,
    after_sign_in,
    container,
    safe_next,
)
from bookplate.web.threads import run_sign_in

if TYPE_CHECKING:
    # Only a type here: importing auth.profiles loads the protocol libraries (pysaml2, ldap3,
    # authlib), which an API worker should not pay for at start-up. They load with the first
    # external sign-in (``Container.external``).
    from bookplate.auth.profiles import Started

log = structlog.get_logger("bookplate.web.external")
router = APIRouter(include_in_schema=False)

SSO_COOKIE = "bp_sso"
SSO_SECONDS = 600


def _sso_cookie(request: Request, response: Response, value: str) -> None:
    secure = container(request).settings.session_cookie_secure
    # The SAML ACS is a cross-site POST from the IdP: Lax cookies are not sent with it.
    response.set_cookie(SSO_COOKIE, value, max_age=SSO_SECONDS, path="/auth/", httponly=True,
                        samesite="none" if secure else "lax", secure=secure)


def signed_in(request: Request, user: User, method: str, next_url: str,
              link: SessionLink | None = None) -> Response:
    """A new session for ``user`` (whatever session came in is ended) and a redirect; ``link``
    ties it to the provider's session (single logout)."""
    c = container(request)
    c.auth.end_session(request.cookies.get(SESSION_COOKIE))
    token, session = c.auth.start_session(user, method)
    c.external.link_session(link, session.token_hash, session.expires_at)
    response = RedirectResponse(after_sign_in(c, user, safe_next(next_url)), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=c.auth.session_seconds, path="/",
                        httponly=True, samesite="lax",
                        secure=c.settings.session_cookie_secure)
    response.delete_cookie(SSO_COOKIE, path="/auth/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def _refused(request: Request, exc: Exception, method: Method, code: str) -> Response:
    if isinstance(exc, AuthenticationFailed):
        log.info("external_login_refused", method=method.value, profile=code[:64],
                 kind=type(exc).__name__, reason=exc.reason)
    elif isinstance(exc, ProfileNotFound | ProfileInvalid):
        log.info("external_login_refused", method=method.value, profile=code[:64],
                 reason=str(exc))
    else:
        log.error("external_login_error", method=method.value, profile=code[:64],
                  error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return _failed(request)


async def _start(request: Request, method: Method, code: str,
                 start: Callable[[str, str | None, str], Started]) -> Response:
    institution = request.query_params.get("institution") or None
    next_url = safe_next(request.query_params.get("next"))
    try:
        started = await run_sign_in(request, start, code, institution, next_url)
    except Exception as exc:  # any failure is the same refusal; the reason goes to the log
        return _refused(request, exc, method, code)
    response = RedirectResponse(started.redirect_url, status_code=303)
    _sso_cookie(request, response, started.cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _record_refusal(request: Request, method: Method, code: str, cookie: str | None,
                          reason: str) -> None:
    """A refused return leg goes to the login events too (with the client's address)."""
    try:
        await run_sign_in(request, container(request).external.record_refusal, method, code,
                          cookie, reason, client_address(request))
    except Exception as exc:  # recording must not turn a refusal into an error page
        log.error("login_event_failed", method=method.value,
                  error=f"{type(exc).__name__}: {str(exc)[:300]}")


async def _finish(request: Request, method: Method, code: str,
                  finish: Callable[..., tuple[User, str, SessionLink | None]], *args: Any
                  ) -> Response:
    cookie = request.cookies.get(SSO_COOKIE)
    try:
        user, next_url, link = await run_sign_in(request, finish, code, cookie, *args,
                                                 address=client_address(request))
    except Exception as exc:
        if isinstance(exc, AuthenticationFailed) and not isinstance(exc, LoginDenied):
            await _record_refusal(request, method, code, cookie, exc.reason)
        return _refused(request, exc, method, code)
    return signed_in(request, user, method.value, next_url, link)


def _signed_out_page() -> Response:
    return RedirectResponse("/auth/login", status_code=303)


# --- SAML ---------------------------------------------------------------------------------------


@router.get("/auth/saml/{code}/metadata")
async def saml_metadata(request: Request, code: str) -> Response:
    c = container(request)
    try:
        xml = await run_sign_in(request, c.external.saml_metadata, code,
                                      request.query_params.get("institution") or None)
    except (ProfileNotFound, ProfileInvalid) as exc:
        log.info("saml_metadata_refused", profile=code[:64], reason=str(exc))
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(xml, media_type="application/samlmetadata+xml")


@router.get("/auth/saml/{code}/login")
async def saml_login(request: Request, code: str) -> Response:
    return await _start(request, Method.SAML, code, container(request).external.saml_start)


@router.post("/auth/saml/{code}/acs")
async def saml_acs(request: Request, code: str) -> Response:
    form = await _form(request)
    if form is None:
        log.info("external_login_refused", method="saml", reason="unreadable or huge form")
        return _failed(request, 400)
    return await _finish(request, Method.SAML, code, container(request).external.saml_finish,
                         _field(form, "SAMLResponse"))


@router.get("/auth/saml/{code}/slo")
async def saml_slo(request: Request, code: str) -> Response:
    """Single logout, HTTP-Redirect binding: an IdP's LogoutRequest (end the sessions it
    names, answer with our LogoutResponse) or its LogoutResponse to ours (the local session
    was ended before the browser left: go to the sign-in page either way)."""
    c = container(request)
    q = request.query_params
    institution = q.get("institution") or None
    if q.get("SAMLRequest"):
        try:
            answer = await run_sign_in(request, c.external.saml_logout_request, code,
                                       institution, q)
        except Exception as exc:
            return _refused(request, exc, Method.SAML, code)
        # The sessions ended are the ones the request names (NameID, SessionIndex), in any
        # browser; the cookie of the browser carrying it plays no part.
        response = RedirectResponse(answer, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        return response
    if q.get("SAMLResponse"):
        try:
            await run_sign_in(request, c.external.saml_logout_response, code, institution, q)
        except Exception as exc:
            return _refused(request, exc, Method.SAML, code)
        return _signed_out_page()
    return _failed(request, 400)


# --- CAS ----------------------------------------------------------------------------------------


@router.get("/auth/cas/{code}/login")
async def cas_login(request: Request, code: str) -> Response:
    return await _start(request, Method.CAS, code, container(request).external.cas_start)


@router.get("/auth/cas/{code}/callback")
async def cas_callback(request: Request, code: str) -> Response:
    q = request.query_params
    return await _finish(request, Method.CAS, code, container(request).external.cas_finish,
                         q.get("ticket", ""), q.get("state", ""))


@router.post("/auth/cas/{code}/callback")
async def cas_logout_request(request: Request, code: str) -> Response:
    """The CAS server's back-channel single logout (``logoutRequest`` form field)."""
    form = await _form(request)
    if form is None:
        return Response("Bad request", status_code=400, media_type="text/plain")
    c = container(request)
    try:
        await run_sign_in(request, c.external.cas_logout_request, code,
                          request.query_params.get("institution") or None,
                          _field(form, "logoutRequest"))
    except Exception as exc:
        _refused(request, exc, Method.CAS, code)  # logged; the server only needs a status
        return Response("Refused", status_code=400, media_type="text/plain")
    return Response("OK", media_type="text/plain")


# --- OpenID Connect -----------------------------------------------------------------------------


@router.get("/auth/oidc/{code}/login")
async def oidc_login(request: Request, code: str) -> Response:
    return await _start(request, Method.OIDC, code, container(request).external.oidc_start)


@router.get("/auth/oidc/{code}/callback")
async def oidc_callback(request: Request, code: str) -> Response:
    q = request.query_params
    if q.get("error"):
        reason = f"provider error {q.get('error', '')[:100]}"
        log.info("external_login_refused", method="oidc", profile=code[:64], reason=reason)
        await _record_refusal(request, Method.OIDC, code, request.cookies.get(SSO_COOKIE),
                              reason)
        return _failed(request)
    return await _finish(request, Method.OIDC, code, container(request).external.oidc_finish,
                         q.get("code", ""), q.get("state", ""), q.get("iss"))
