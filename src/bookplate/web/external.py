"""External sign-in routes: one generic route ``/auth/{method}/{code}/{endpoint}`` for every
redirect method. Each backend declares its URLs (``endpoints``: HTTP method and last segment ->
leg), so the URLs identity providers have configured are instances of this route: SAML
``metadata``, ``login``, ``acs`` (POST), ``slo``; CAS ``login``, ``callback`` (GET: the
ticket; POST: the server's back-channel logout); OIDC ``login``, ``callback``. A URL no backend
declares answers 404, another HTTP method 405, as any unknown route. Password methods (LDAP)
go through the password form (``routes.login``, method choice).

A start stores the protocol state (SAML request ID, OIDC state/nonce/PKCE verifier, where to go
afterwards) server-side, under a random value in the ``bp_sso`` cookie; the return leg reads it
back. Sign-in ends with a brand-new session (no fixation). Every failure is the same
"Authentication failed" page; the reason is in the log. Where to go afterwards is a same-site
relative path only (``safe_next``); the RelayState an IdP posts back is never followed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog
from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from bookplate.auth.errors import (
    AuthenticationFailed,
    ProfileInvalid,
    ProfileNotFound,
)
from bookplate.auth.ports import Leg, SessionLink
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

# auth.external (the service) is not imported here: it loads the protocol libraries (pysaml2,
# ldap3, authlib), which an API worker should not pay for at start-up. They load with the
# first external sign-in (``Container.external``).
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


def _refused(request: Request, exc: Exception, method: str, code: str) -> Response:
    if isinstance(exc, AuthenticationFailed):
        log.info("external_login_refused", method=method[:20], profile=code[:64],
                 kind=type(exc).__name__, reason=exc.reason)
    elif isinstance(exc, ProfileNotFound | ProfileInvalid):
        log.info("external_login_refused", method=method[:20], profile=code[:64],
                 reason=str(exc))
    else:
        log.error("external_login_error", method=method[:20], profile=code[:64],
                  error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return _failed(request)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _fields(form: FormData) -> dict[str, str]:
    return {name: _field(form, name) for name in form}


Handler = Callable[[Request, str, str], Awaitable[Response]]


async def _start(request: Request, method: str, code: str) -> Response:
    institution = request.query_params.get("institution") or None
    next_url = safe_next(request.query_params.get("next"))
    try:
        started = await run_sign_in(request, container(request).external.start, method, code,
                                    institution, next_url)
    except Exception as exc:  # any failure is the same refusal; the reason goes to the log
        return _refused(request, exc, method, code)
    response = RedirectResponse(started.redirect_url, status_code=303)
    _sso_cookie(request, response, started.cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _finish(request: Request, method: str, code: str) -> Response:
    """The return leg: the query (GET) or the form (POST) goes to the backend; a refusal is
    recorded as a login event by the service."""
    callback: Mapping[str, str]
    if request.method == "POST":
        form = await _form(request)
        if form is None:
            log.info("external_login_refused", method=method[:20],
                     reason="unreadable or huge form")
            return _failed(request, 400)
        callback = _fields(form)
    else:
        callback = dict(request.query_params)
    try:
        user, next_url, link = await run_sign_in(
            request, container(request).external.finish, method, code,
            request.cookies.get(SSO_COOKIE), callback, address=client_address(request))
    except Exception as exc:
        return _refused(request, exc, method, code)
    return signed_in(request, user, method, next_url, link)


async def _metadata(request: Request, method: str, code: str) -> Response:
    c = container(request)
    try:
        document, media_type = await run_sign_in(
            request, c.external.metadata, method, code,
            request.query_params.get("institution") or None)
    except (ProfileNotFound, ProfileInvalid) as exc:
        log.info(f"{method[:20]}_metadata_refused", profile=code[:64], reason=str(exc))
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(document, media_type=media_type)


async def _logout(request: Request, method: str, code: str) -> Response:
    """Single logout through the browser (SAML HTTP-Redirect binding): the provider's logout
    message (end the sessions it names, in any browser: the cookie of the browser carrying it
    plays no part; answer) or its answer to ours (the local session was ended before the
    browser left: go to the sign-in page either way)."""
    c = container(request)
    q = request.query_params
    if not any(q.get(name) for name in c.external.logout_fields(method)):
        return _failed(request, 400)
    try:
        answer = await run_sign_in(request, c.external.provider_logout, method, code,
                                   q.get("institution") or None, dict(q))
    except Exception as exc:
        return _refused(request, exc, method, code)
    if answer is None:
        return RedirectResponse("/auth/login", status_code=303)
    response = RedirectResponse(answer, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _backchannel(request: Request, method: str, code: str) -> Response:
    """The provider's server ends a session (CAS ``logoutRequest``): it needs a status only."""
    form = await _form(request)
    if form is None:
        return Response("Bad request", status_code=400, media_type="text/plain")
    try:
        await run_sign_in(request, container(request).external.provider_logout, method, code,
                          request.query_params.get("institution") or None, _fields(form))
    except Exception as exc:
        _refused(request, exc, method, code)  # logged; the server only needs a status
        return Response("Refused", status_code=400, media_type="text/plain")
    return Response("OK", media_type="text/plain")


LEGS: dict[Leg, Handler] = {Leg.START: _start, Leg.FINISH: _finish, Leg.METADATA: _metadata,
                            Leg.LOGOUT: _logout, Leg.BACKCHANNEL: _backchannel}


@router.api_route("/auth/{method}/{code}/{endpoint}",
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def external(request: Request, method: str, code: str, endpoint: str) -> Response:
    """Every URL of every redirect method; what each does is its backend's ``endpoints``."""
    legs = container(request).external.legs(method, endpoint)
    if not legs:
        raise HTTPException(status_code=404)
    leg = legs.get(request.method)
    if leg is None:
        raise HTTPException(status_code=405, headers={"Allow": ", ".join(legs)})
    return await LEGS[leg](request, method, code)
