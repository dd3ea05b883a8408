"""The one place where Bookplate's typed errors become HTTP statuses and Alma error codes.

Each row: error class -> (HTTP status, Alma error code). Lookup walks the class's MRO, so a
subclass without a row of its own answers as its parent. Bodies are Alma's envelope in the
caller's format (``alma.errors``), each with a tracking id that is also logged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookplate.alma.fulfilment import FulfilmentEntryNotFound
from bookplate.api.negotiation import wants_json
from bookplate.api.wire import error_response
from bookplate.auth import errors as auth_errors
from bookplate.errors import (
    AccessError,
    BookplateError,
    ConflictError,
    InputError,
    NotFoundError,
    StorageUnavailable,
)
from bookplate.keys import errors as key_errors
from bookplate.network import errors as network_errors
from bookplate.roles import errors as role_errors
from bookplate.sis import errors as sis_errors
from bookplate.users import errors as user_errors

log = structlog.get_logger("bookplate.api")


@dataclass(frozen=True, slots=True)
class Mapping:
    status: int
    code: str


# Every Alma code the API answers comes from this table: where Alma distinguishes two cases
# (401890 vs 401861), the area raises two error classes. No route builds an error body.
ERROR_TABLE: dict[type[BaseException], Mapping] = {
    user_errors.UserNotFound: Mapping(400, "401861"),
    user_errors.UserNotFoundByType: Mapping(400, "401890"),
    user_errors.SourceUserNotFound: Mapping(400, "4019990"),
    user_errors.LinkingIdNotFound: Mapping(400, "4019998"),
    user_errors.CodeTableNotFound: Mapping(400, "40166410"),
    role_errors.LibraryNotFound: Mapping(400, "40166410"),
    user_errors.DuplicateId: Mapping(400, "401851"),
    user_errors.RepeatedIdentifier: Mapping(400, "40166404"),
    user_errors.MandatoryFieldMissing: Mapping(400, "401664"),
    user_errors.InvalidFieldValue: Mapping(400, "40166404"),
    user_errors.InvalidCode: Mapping(400, "401864"),
    user_errors.NotSupportedForRecordType: Mapping(400, "401863"),
    user_errors.IllegalUserGroup: Mapping(400, "401852"),
    user_errors.ExternalIdMustBeEmpty: Mapping(400, "401853"),
    user_errors.ExternalIdRequired: Mapping(400, "401854"),
    user_errors.UnsupportedAccountType: Mapping(400, "401855"),
    user_errors.IllegalAccountType: Mapping(400, "401857"),
    user_errors.ExternalIdImmutable: Mapping(400, "401858"),
    user_errors.ActionNotSupported: Mapping(400, "401859"),
    user_errors.PasswordRejected: Mapping(400, "500038"),
    user_errors.UnreadableRecord: Mapping(400, "401676"),
    user_errors.InvalidParameter: Mapping(400, "40166411"),
    user_errors.PreconditionFailed: Mapping(412, "PRECONDITION_FAILED"),  # If-Match, extension
    role_errors.LastAdministrator: Mapping(400, "401860"),
    role_errors.PermissionDenied: Mapping(403, "FORBIDDEN"),
    role_errors.NotStaff: Mapping(403, "FORBIDDEN"),
    role_errors.ProfileNotFound: Mapping(400, "402119"),
    role_errors.RuleNotFound: Mapping(400, "402119"),
    auth_errors.AuthenticationFailed: Mapping(401, "401866"),
    auth_errors.ResetLinkInvalid: Mapping(400, "402119"),
    auth_errors.MailUnavailable: Mapping(503, "60101"),
    key_errors.InvalidApiKey: Mapping(403, "UNAUTHORIZED"),
    key_errors.AreaNotAllowed: Mapping(400, "UNAUTHORIZED"),
    key_errors.PerSecondThreshold: Mapping(429, "PER_SECOND_THRESHOLD"),
    StorageUnavailable: Mapping(503, "60101"),  # disk full / read-only: writes only
    key_errors.DailyThreshold: Mapping(429, "DAILY_THRESHOLD"),
    InputError: Mapping(400, "402119"),
    NotFoundError: Mapping(400, "402119"),
    ConflictError: Mapping(400, "402119"),
    AccessError: Mapping(400, "UNAUTHORIZED"),
    BookplateError: Mapping(400, "402119"),
}


# Errors of the API face itself (what only HTTP knows of), mapped like the areas' errors.


class BodyTooLarge(InputError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")


class UnreadableJson(InputError):
    """A JSON body that is not a JSON object (``/primo/v1/userJwt``)."""

    def __init__(self) -> None:
        super().__init__("No valid JSON was given.")


class PasswordCheckFailed(AccessError):
    """``op=auth`` answered "no": Alma's 400/401866 (a sign-in elsewhere answers 401)."""

    def __init__(self) -> None:
        super().__init__("User authentication failed")


class NoSuchResource(NotFoundError):
    """A path this deployment does not serve, said in words: a user's sub-resource Bookplate
    has not (``GET /users/{id}/unknown``), the sandbox routes on a server that is no sandbox."""


class InstitutionNotFound(NotFoundError):
    """A path names an institution this deployment does not host (404, like an unknown path:
    a verifier's typo must not read as "no keys yet")."""

    def __init__(self, institution: str) -> None:
        super().__init__(f"No institution {institution}.")


ERROR_TABLE.update(
    {
        BodyTooLarge: Mapping(413, "401676"),
        UnreadableJson: Mapping(400, "401676"),
        PasswordCheckFailed: Mapping(400, "401866"),
        InstitutionNotFound: Mapping(404, "NOT_FOUND"),
        NoSuchResource: Mapping(404, "NOT_FOUND"),
    }
)

# SIS profiles, runs and uploads (/bookplate/v1/sis).
ERROR_TABLE.update(
    {
        sis_errors.ProfileNotFound: Mapping(400, "402119"),
        sis_errors.ProfileExists: Mapping(400, "402119"),
        sis_errors.InvalidProfile: Mapping(400, "40166411"),
        sis_errors.RunNotFound: Mapping(400, "402119"),
        sis_errors.SourceError: Mapping(400, "401676"),
        sis_errors.UploadTooLarge: Mapping(413, "401676"),
        sis_errors.RunNotQueueable: Mapping(400, "402119"),
    }
)


def lookup(error: BaseException) -> Mapping:
    if isinstance(error, network_errors.NetworkError):
        # Fulfillment networks: each error class carries its Alma code (network/errors.py).
        return Mapping(400, error.code)
    if isinstance(error, FulfilmentEntryNotFound):
        return Mapping(400, error.code)  # each fulfilment collection has its own code
    for cls in type(error).__mro__:
        found = ERROR_TABLE.get(cls)
        if found is not None:
            return found
    return Mapping(500, "60101")


def tracking_id() -> str:
    return f"E01-{time.strftime('%d%H%M%S')}-{secrets.token_hex(5).upper()}"


def render(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: MappingOf[str, str] | None = None,
) -> Response:
    tid = tracking_id()
    log.info(
        "api_error",
        tracking_id=tid,
        status=status,
        code=code,
        message=message,
        method=request.method,
        path=request.url.path,
    )
    response = error_response(status, code, message, tid, wants_json(request))
    if headers:
        response.headers.update(headers)  # e.g. Allow on a 405
    return response


def crash_response(request: Request) -> Response:
    """Alma's general error (60101) for an unexpected exception, logged with its tracking id."""
    tid = tracking_id()
    log.exception("api_crash", tracking_id=tid, path=request.url.path)
    return error_response(
        500,
        "60101",
        "General Error: An error has occurred while processing the request.",
        tid,
        wants_json(request),
    )


class CrashGuard:
    """Answers an unexpected exception with ``crash_response`` and keeps the connection.

    Starlette's outermost middleware sends the 500 too, but then raises the exception on to
    the server, which closes the keep-alive connection without saying so
    (``Connection: close``) and logs the traceback a second time. Here the exception ends
    with the answer, unless the answer had already begun (then only closing can tell the
    client, and the server does).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            await crash_response(Request(scope))(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers; nothing else in the API builds an error body."""

    async def on_bookplate_error(request: Request, exc: Exception) -> Response:
        mapping = lookup(exc)
        return render(request, mapping.status, mapping.code, str(exc))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        names = [str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()]
        return render(request, 400, "40166411", f"The parameter {', '.join(names)} is invalid.")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "INVALID_REQUEST")
        return render(
            request, exc.status_code, code, f"{exc.detail}: {request.url.path}", exc.headers
        )

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Only what escapes ``CrashGuard`` (a middleware's own failure) gets here.
        return crash_response(request)

    app.add_exception_handler(BookplateError, on_bookplate_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
    app.add_middleware(CrashGuard)
