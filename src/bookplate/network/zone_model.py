"""Network Zone style central management (SPEC section 7.2), the pure part: what a member's
copy of a central user holds.

The central institution keeps the user; a member's copy takes the central record as
**External** data (general information, contact details, identifiers, notes, active blocks)
and keeps the member's own **Internal** segments, its roles, proxies and statistics (never
pushed), and its staff-only fields. Each push replaces the External data and nothing else.
"""

from __future__ import annotations

import copy
from typing import Any

from bookplate.network.model import COPIED_BLOCK_PREFIX
from bookplate.users.model import AccountType, ContactInfo, SegmentType, User

#: Fields of the member's copy that are the member's own: never taken from the central.
MEMBER_KEPT = (
    "roles",
    "proxy_for",
    "statistics",
    "pin_number",
    "cataloger_level",
    "force_password_change",
    "manual_fields",
    "last_patron_activity_date",
    "created_by",
    "created_date",
    "last_modified_by",
    "last_modified_date",
)


def _internal(segments: list[Any]) -> list[Any]:
    return [copy.deepcopy(s) for s in segments if s.segment_type != SegmentType.EXTERNAL]


def _external(segments: list[Any]) -> list[Any]:
    out = []
    for segment in segments:
        new = copy.deepcopy(segment)
        new.segment_type = SegmentType.EXTERNAL
        out.append(new)
    return out


def zone_copy(central: User, member_copy: User | None, member: str, linking_id: str) -> User:
    """The member's copy of ``central``'s user: new (``member_copy`` None) or refreshed."""
    user = copy.deepcopy(central)
    mine = member_copy or User(primary_id=central.primary_id)
    for name in MEMBER_KEPT:
        setattr(user, name, copy.deepcopy(getattr(mine, name)))
    if member_copy is None:
        user.roles, user.proxy_for, user.statistics, user.manual_fields = [], [], [], {}
    user.institution = member
    user.account_type = AccountType.EXTERNAL.value
    user.external_id = central.external_id or central.institution
    user.source_institution_code = central.institution
    user.source_link_id = central.primary_id
    user.linking_id = linking_id
    theirs, own = central.contact_info, mine.contact_info
    user.contact_info = ContactInfo(
        addresses=_external(theirs.addresses) + _internal(own.addresses),
        emails=_external(theirs.emails) + _internal(own.emails),
        phones=_external(theirs.phones) + _internal(own.phones),
    )
    if any(e.preferred for e in theirs.emails):
        for email in user.contact_info.emails[len(theirs.emails):]:
            email.preferred = False
    if any(p.preferred for p in theirs.phones):
        for phone in user.contact_info.phones[len(theirs.phones):]:
            phone.preferred = False
    if any(a.preferred for a in theirs.addresses):
        for address in user.contact_info.addresses[len(theirs.addresses):]:
            address.preferred = False
    user.identifiers = _external(central.identifiers) + _internal(mine.identifiers)
    user.notes = _external(central.notes) + _internal(mine.notes)
    pushed = _external([b for b in central.blocks
                        if (b.block_status or "ACTIVE").upper() == "ACTIVE"
                        and not (b.created_by or "").startswith(COPIED_BLOCK_PREFIX)])
    for block in pushed:
        block.created_by = f"{COPIED_BLOCK_PREFIX}{central.institution}"
    user.blocks = pushed + _internal(mine.blocks)
    return user
