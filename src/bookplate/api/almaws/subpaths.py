"""``/almaws/v1/users/{a}/{b}`` for a ``b`` Bookplate does not serve, whatever the method.

The user routes take ``{user_id:path}`` (an ID may hold a slash: ``dept/ann``), so a call such
as ``PUT /users/jdoe/holdings`` reaches them with the user ID ``jdoe/holdings``. When no user
has that ID but ``jdoe`` is a user, the caller asked for a sub-resource, and the answer is a
404 naming the sub-path (``NoSuchResource``, NOT_FOUND in the one error table), never "user
jdoe/holdings not found" nor an error about the body or the ``op`` of a call that cannot be
served anyway. When ``jdoe`` is no user either, ``jdoe/holdings`` may well be an ID with a
slash, and the user-not-found error stands.
"""

from __future__ import annotations

from bookplate.alma import fulfilment as shapes
from bookplate.api.errors import NoSuchResource
from bookplate.bootstrap import Container
from bookplate.roles.model import Caller
from bookplate.users.errors import UserNotFound

# What GET answers under a user (the fulfilment lists, each with its entries).
SERVED = tuple(shapes.BY_PATH)
# Alma documents these too; Bookplate does not serve them (docs/alma-compatibility.md).
NOT_SERVED = ("personal-data", "attachments")


def _message(method: str, rest: str) -> str:
    shown = rest[:100]
    head = shown.split("/", 1)[0]
    said = f"{method} /almaws/v1/users/{{user_id}}/{shown}"
    if head in NOT_SERVED:
        why = f"Alma's {head} resource is not served by Bookplate."
    elif head in SERVED:
        why = f"Bookplate keeps no {shapes.BY_PATH[head].noun}s; GET lists them (always empty)."
    else:
        why = "There is no such sub-resource."
    return (f"No such resource: {said}. {why} A user's sub-resources here are: "
            f"{', '.join(SERVED)}.")


def refuse_unknown_sub_resource(
    c: Container, who: Caller, user_id: str, id_type: str, method: str = "GET"
) -> None:
    """For ``/users/a/b`` that found no user ``a/b``: raise ``NoSuchResource`` when ``a`` is a
    user; nothing when ``a`` is no user either."""
    head, _, rest = user_id.partition("/")
    if not head or not rest:
        return
    try:
        c.staff.get(who, head, id_type)
    except UserNotFound:
        return
    raise NoSuchResource(_message(method, rest))


def check_sub_path(c: Container, who: Caller, user_id: str, id_type: str, method: str) -> None:
    """Before a write on ``/users/{user_id}`` whose ID holds a slash: an ID that is a user's
    goes on; otherwise, when its first part is a user, the call asked for a sub-resource that
    does not exist (``NoSuchResource``). One look-up more, for slashed IDs only."""
    if "/" not in user_id:
        return
    try:
        c.staff.get(who, user_id, id_type)
    except UserNotFound:
        refuse_unknown_sub_resource(c, who, user_id, id_type, method)
