"""``/bookplate/v1/users/{user_id}/…``: a user's sign-in, as staff manage it — whether the
account is locked after repeated failed sign-ins, unlocking it, and sending a one-time
password-reset link (docs/authentication.md, "Administration").

A staff member needs the privileges of editing that user's record (by its kind: patron,
staff, restricted, administrator) to unlock it or send a link, and of viewing users to see
the lock; an API key needs the Users area (read/write to change anything).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bookplate.api import deps
from bookplate.keys.model import Area
from bookplate.roles.model import Caller

router = APIRouter(prefix="/bookplate/v1/users", tags=["Bookplate: sign-in administration"])

UserId = Annotated[str, Path(min_length=1, max_length=255,
                             description="Primary ID or any unique identifier.")]


def _target(request: Request, user_id: str, write: bool) -> tuple[Caller, str]:
    """Who calls, and the primary ID of the user they may manage."""
    who = deps.caller(request, Area.USERS, write=write)
    user = deps.container(request).staff.may_manage_sign_in(who, user_id, write=write)
    return who, user.primary_id


@router.get("/{user_id}/lockout", summary="Whether the account is locked")
def lockout(request: Request, user_id: UserId) -> Response:
    """``{"primary_id", "locked"}``: locked after too many failed password checks (own
    password, ``op=auth``, LDAP)."""
    who, primary_id = _target(request, user_id, write=False)
    locked = deps.container(request).auth.is_locked(who.institution, primary_id)
    return JSONResponse({"primary_id": primary_id, "locked": locked})


@router.post("/{user_id}/unlock", summary="Unlock the account")
def unlock(request: Request, user_id: UserId) -> Response:
    """Ends the lock and forgets the failures counted so far. ``{"primary_id",
    "was_locked"}``."""
    who, primary_id = _target(request, user_id, write=True)
    was_locked = deps.container(request).auth.unlock(who.institution, primary_id, who.who)
    return JSONResponse({"primary_id": primary_id, "was_locked": was_locked})


@router.post("/{user_id}/password-reset", summary="Mail the user a password-reset link")
async def password_reset(request: Request, user_id: UserId) -> Response:
    """Mails a one-time link (valid ``BOOKPLATE_RESET_LINK_SECONDS``) to the user's
    preferred e-mail address. 400 when it cannot be sent: no mail server or public URL
    configured, no e-mail address, an inactive or expired account, or an account that signs
    in through its identity provider; 503 when the mail server refuses it.
    ``{"primary_id", "sent_to"}``."""
    who, primary_id = await run_in_threadpool(_target, request, user_id, True)
    _, address = await run_in_threadpool(
        deps.container(request).resets.staff_reset, who.institution, primary_id, who.who)
    return JSONResponse({"primary_id": primary_id, "sent_to": address})
