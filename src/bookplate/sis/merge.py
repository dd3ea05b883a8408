"""What a file's record becomes before the planner compares it (pure, no I/O): the record
as a profile loads it (``prepare``), a new user's defaults (``new_user``), and the swap-all
of a stored user by the file's record with Alma's exceptions (``merge``; the rules are
listed in ``sis/plan.py``). Split from the planner, which decides per record what to do.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bookplate.sis.model import FieldRule, Profile
from bookplate.users.manual import PROTECTED_FIELDS, field_text
from bookplate.users.model import AccountType, ContactInfo, SegmentType, User

_SEGMENT_LISTS = ("identifiers", "notes", "blocks", "statistics")
CONTACT_LISTS = ("addresses", "emails", "phones")
_KEPT_FROM_STORED = (
    "roles",
    "proxy_for",
    "linking_id",
    "source_institution_code",
    "source_link_id",
    "created_by",
    "created_date",
    "last_modified_by",
    "last_modified_date",
    "last_patron_activity_date",
    "institution",
    "force_password_change",
)
def blank(value: object) -> bool:
    return value is None or value in ("", [])


def _segments(user: User) -> list[Any]:
    out: list[Any] = []
    for name in _SEGMENT_LISTS:
        out.extend(getattr(user, name))
    for name in CONTACT_LISTS:
        out.extend(getattr(user.contact_info, name))
    return out


def prepare(user: User, profile: Profile) -> User:
    """The file's record as this profile loads it (no defaults from the stored user yet)."""
    user.institution = profile.institution
    user.record_type = profile.record_type
    user.account_type = AccountType.EXTERNAL.value
    user.external_id = profile.code
    user.status = (user.status or "ACTIVE").upper()
    user.roles = []
    user.manual_fields = {}
    user.proxy_for = []
    user.linking_id = None
    user.source_institution_code = None
    user.source_link_id = None
    for segment in _segments(user):
        segment.segment_type = SegmentType.EXTERNAL
    return user


def _reset_value(name: str, profile: Profile) -> Any:
    if name == "user_group":
        return profile.default_user_group
    if name in ("rs_libraries", "library_notices"):
        return []
    return None


_USER_FIELDS = tuple(f.name for f in dataclasses.fields(User))


def _copy_for_merge(user: User) -> User:
    """A copy of ``user`` whose segment lists are its own (the lists ``merge`` extends); the
    segments in them are the same objects, which ``merge`` never changes."""
    out = User.__new__(User)
    for name in _USER_FIELDS:
        setattr(out, name, getattr(user, name))
    for name in _SEGMENT_LISTS:
        setattr(out, name, list(getattr(user, name)))
    contact = user.contact_info
    out.contact_info = ContactInfo(
        list(contact.addresses), list(contact.emails), list(contact.phones)
    )
    return out


def _own(value: Any) -> Any:
    """``value`` for the merged user: shared when immutable, else a deep copy."""
    if value is None or isinstance(value, str | int | float | date):
        return value
    if isinstance(value, list) and not value:
        return []
    return copy.deepcopy(value)


def merge(
    stored: User,
    incoming: User,
    profile: Profile,
    untouched: frozenset[tuple[str, str]] = frozenset(),
) -> User:
    """Swap-all of ``stored`` by ``incoming`` (already ``prepare``d), with Alma's exceptions.
    ``untouched``: fields the file has no column for, kept as stored (``_keep_untouched``).
    Neither argument is changed; the result shares ``incoming``'s segment objects and values
    (callers do not change those afterwards: ``incoming`` is the file's record, read once)."""
    merged = _copy_for_merge(incoming)
    for name in _KEPT_FROM_STORED:
        setattr(merged, name, _own(getattr(stored, name)))
    # Internal segments stay, after the file's external ones.
    for name in _SEGMENT_LISTS:
        kept = [s for s in getattr(stored, name) if s.segment_type == SegmentType.INTERNAL]
        getattr(merged, name).extend(_own(kept))
    for name in CONTACT_LISTS:
        kept = [
            s for s in getattr(stored.contact_info, name) if s.segment_type == SegmentType.INTERNAL
        ]
        getattr(merged.contact_info, name).extend(_own(kept))
    # Protected fields.
    manual = dict(stored.manual_fields)
    for name in PROTECTED_FIELDS:
        if name in manual:
            sent = field_text(incoming, name)
            if sent == field_text(stored, name):
                del manual[name]  # the SIS now sends the staff value: attached again
                continue
            setattr(merged, name, _own(getattr(stored, name)))
            if sent:
                manual[name] = sent  # what "restore" goes back to
        elif blank(getattr(incoming, name)):
            setattr(merged, name, _reset_value(name, profile))
    merged.manual_fields = manual
    # Profile rules for other fields.
    for name, rule in profile.field_rules.items():
        if name in PROTECTED_FIELDS or rule is FieldRule.ERASE:
            continue
        new, old = getattr(incoming, name), getattr(stored, name)
        if (rule is FieldRule.KEEP and not blank(old)) or (
            rule is FieldRule.REPLACE and blank(new)
        ):
            setattr(merged, name, _own(old))
    # Expiry and purge dates the file leaves blank stay as they are (defaults are for new users).
    if merged.expiry_date is None:
        merged.expiry_date = stored.expiry_date
    if merged.purge_date is None:
        merged.purge_date = stored.purge_date
    if untouched:
        _keep_untouched(merged, stored, untouched)
    return merged


#: List target of a CSV column -> (where the list is, test of an entry's type).
_TYPED_LISTS: dict[str, tuple[str, Callable[[Any], list[str | None]]]] = {
    "identifier": ("identifiers", lambda s: [s.id_type]),
    "note": ("notes", lambda s: [s.note_type]),
    "statistic": ("statistics", lambda s: [s.category_type or ""]),
    "email": ("contact_info.emails", lambda s: list(s.email_types)),
    "phone": ("contact_info.phones", lambda s: list(s.phone_types)),
    "address": ("contact_info.addresses", lambda s: list(s.address_types)),
}


def _keep_untouched(merged: User, stored: User, untouched: frozenset[tuple[str, str]]) -> None:
    """The fields a CSV file has no column for keep their stored values: a core field its
    value (and, protected, its manual mark); a list target the stored external entries of
    its type (every external entry when the type came from the missing column)."""
    for name, kind in sorted(untouched):
        spec = _TYPED_LISTS.get(name)
        if spec is None:
            setattr(merged, name, _own(getattr(stored, name)))
            if name in stored.manual_fields:
                merged.manual_fields[name] = stored.manual_fields[name]
            continue
        path, types = spec
        owner_new: Any = merged.contact_info if path.startswith("contact_info.") else merged
        owner_old: Any = stored.contact_info if path.startswith("contact_info.") else stored
        attr = path.rsplit(".", 1)[-1]
        items: list[Any] = getattr(owner_new, attr)
        kept = [
            _own(s)
            for s in getattr(owner_old, attr)
            if s.segment_type == SegmentType.EXTERNAL and (kind == "*" or kind in types(s))
        ]
        if any(getattr(s, "preferred", False) for s in items):
            for s in kept:
                if hasattr(s, "preferred"):
                    s.preferred = False
        # The file's external entries first, then the kept ones, then the internal ones.
        external = [s for s in items if s.segment_type == SegmentType.EXTERNAL]
        internal = [s for s in items if s.segment_type != SegmentType.EXTERNAL]
        setattr(owner_new, attr, external + kept + internal)


def new_user(incoming: User, profile: Profile, today: date) -> User:
    user = incoming
    if blank(user.user_group):
        user.user_group = profile.default_user_group
    if user.expiry_date is None and profile.expiry_days is not None:
        user.expiry_date = today + timedelta(days=profile.expiry_days)
    if user.purge_date is None and profile.purge_days is not None and user.expiry_date:
        user.purge_date = user.expiry_date + timedelta(days=profile.purge_days)
    return user
