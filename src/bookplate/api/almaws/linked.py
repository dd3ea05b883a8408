"""The linked-account calls of ``/almaws/v1/users`` (SPEC section 7.1), kept apart from the
routes of ``users.py``: each takes the resolved caller and hands over to ``NetworkService``,
with ``StaffUsers`` deciding what the caller may see and write (the policy for a staff
member, nothing more for an integration), so no handler branches on the kind of caller."""

from __future__ import annotations

from starlette.requests import Request

from bookplate.api import deps
from bookplate.roles.model import Caller
from bookplate.users.errors import SourceUserNotFound, UserNotFound
from bookplate.users.model import User


def find(
    request: Request, key: Caller, source_code: str | None, source_user_id: str | None
) -> User | None:
    """``GET /users`` with the source parameters: the one local copy of that source user,
    or None when only ``source_institution_code`` was given (then the list is filtered by
    it, after checking it names a partner)."""
    network = deps.container(request).network
    if source_code and not source_user_id:
        network.check_source_filter(key.institution, source_code)
        return None
    return deps.container(request).staff.visible(
        key, network.find_copy(key.institution, source_code, source_user_id))


def link(
    request: Request, key: Caller, source_code: str | None, source_user_id: str | None
) -> User:
    c = deps.container(request)
    guard = c.staff.write_guard(key)
    return c.network.link(key.institution, source_code, source_user_id, key.who, guard=guard)


def by_source_link(request: Request, key: Caller, link_id: str, source_code: str) -> User:
    """``GET /users/{id}?source_institution_code=A``: ``{id}`` is A's primary ID of the user."""
    try:
        user = deps.container(request).network.copy_by_link(key.institution, source_code,
                                                             link_id)
    except UserNotFound:
        raise SourceUserNotFound(link_id, source_code) from None
    return deps.container(request).staff.visible(key, user)


def refresh(request: Request, key: Caller, user_id: str, id_type: str) -> None:
    c = deps.container(request)
    guard = c.staff.write_guard(key)
    # Not found: 401861, or 401890 for a typed look-up (the error table).
    c.network.refresh(key.institution, user_id, id_type, key.who, guard=guard)
