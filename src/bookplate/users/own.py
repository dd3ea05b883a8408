"""What patrons may change on their own record (self-service at ``/me``, docs/patron.md).

A patron changes only their own contact details of the kinds the institution allows
(``Settings.patron_contact_fields``), and only the entries that are theirs: internal
segments. Entries from the SIS stay as the SIS sent them (a sync replaces external
segments and keeps internal ones, so a patron's own address survives every load). Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from typing import Any

from bookplate.errors import AccessError
from bookplate.users.model import SegmentType, User

CONTACT_KINDS = ("emails", "phones", "addresses")


class OwnChangeRefused(AccessError):
    """A self-service change the institution does not allow, or of an entry from the SIS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


def contact_list(user: User, kind: str) -> list[Any]:
    if kind not in CONTACT_KINDS:
        raise OwnChangeRefused("This part of the record cannot be changed here.")
    items: list[Any] = getattr(user.contact_info, kind)
    return items


def _externals(items: list[Any]) -> list[Any]:
    """The SIS's entries, compared without their "preferred" mark."""
    out = []
    for item in items:
        if item.segment_type == SegmentType.EXTERNAL:
            entry = copy.deepcopy(item)
            entry.preferred = False
            out.append(entry)
    return out


def change_own_contact(user: User, kind: str, allowed: Collection[str],
                       change: Callable[[list[Any]], None]) -> User:
    """A copy of ``user`` with ``change`` applied to its ``kind`` list, after the rules: the
    kind is allowed, and the SIS's entries are left as they were (apart from the
    "preferred" mark, which moves to the patron's choice)."""
    if kind not in allowed:
        raise OwnChangeRefused("Your library does not let you change this here; ask the "
                               "library staff.")
    edited = copy.deepcopy(user)
    items = contact_list(edited, kind)
    change(items)
    if _externals(items) != _externals(contact_list(user, kind)):
        raise OwnChangeRefused("This entry comes from your institution's records; the "
                               "library or your institution changes it.")
    return edited
