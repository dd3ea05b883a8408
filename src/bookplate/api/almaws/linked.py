"""The linked-account calls of ``/almaws/v1/users`` (SPEC section 7.1), kept apart from the
routes of ``users.py``: each resolves the caller and hands over to ``NetworkService``. A staff
bearer token's call goes through the staff policy like any other write or read of a user."""

from __future__ import annotations

from starlette.requests import Request

from bookplate.api import deps
from bookplate.api.errors import ApiError
from bookplate.users.errors import UserNotFound
from bookplate.users.model import User
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID


def _visible(request: Request, key: deps.Caller, user: User) -> User:
    """The user as the caller may see it (staff: the view policy decides)."""
    if key.actor is None:
        return user
    return deps.container(request).staff.get(key.actor, user.primary_id, PRIMARY_ID)


def find(
    request: Request, key: deps.Caller, source_code: str | None, source_user_id: str | None
) -> User | None:
    """``GET /users`` with the source parameters: the one local copy of that source user,
    or None when only ``source_institution_code`` was given (then the list is filtered by
    it, after checking it names a partner)."""
    network = deps.container(request).network
    if source_code and not source_user_id:
        network.check_source_filter(key.institution, source_code)
        return None
    return _visible(request, key, network.find_copy(key.institution, source_code,
                                                    source_user_id))


def link(
    request: Request, key: deps.Caller, source_code: str | None, source_user_id: str | None
) -> User:
    c = deps.container(request)
    guard = c.staff.write_guard(key.actor) if key.actor is not None else None
    return c.network.link(key.institution, source_code, source_user_id, key.who, guard=guard)


def by_source_link(request: Request, key: deps.Caller, link_id: str, source_code: str) -> User:
    """``GET /users/{id}?source_institution_code=A``: ``{id}`` is A's primary ID of the user."""
    try:
        user = deps.container(request).network.copy_by_link(key.institution, source_code,
                                                             link_id)
    except UserNotFound:
        raise ApiError(
            400,
            "4019990",
            f"User with source identifier {link_id} of institution {source_code} was not found.",
        ) from None
    return _visible(request, key, user)


def refresh(request: Request, key: deps.Caller, user_id: str, id_type: str) -> None:
    c = deps.container(request)
    guard = c.staff.write_guard(key.actor) if key.actor is not None else None
    try:
        c.network.refresh(key.institution, user_id, id_type, key.who, guard=guard)
    except UserNotFound:
        if id_type == ALL_UNIQUE:
            raise ApiError(400, "401861", "Refresh user with given identifier not found.") from None
        raise ApiError(
            400, "401890", f"User with identifier {user_id} of type {id_type} was not found."
        ) from None
