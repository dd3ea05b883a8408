"""Alma's PUT rules on the user record and its version tag (pure, no I/O): the tag of a
stored version (``etag``, ``matches``), the ``override`` parameter, the swap-all merge with
Alma's two exceptions (``merge_for_put``, SPEC section 3) and "Restore" of manual fields.
``users/services.py`` applies them inside its transactions.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta

from bookplate.users.errors import InvalidParameter
from bookplate.users.manual import mark_manual
from bookplate.users.model import LibraryNotice, User
from bookplate.users.shape import OVERRIDE_NAMES, PROTECTED_FIELDS


def etag(user: User) -> str:
    """The stored version of a record, as an HTTP entity tag (quotes included).

    The one place the tag is made (docs/alma-compatibility.md, "Concurrent updates"): a
    digest of the record's institution, primary ID and last modification date-time. Every
    write through ``replace`` and ``staff_update`` moves the date-time on by at least a
    millisecond, so a tag names one version. The same for JSON and XML.
    """
    when = user.last_modified_date.isoformat() if user.last_modified_date else "-"
    raw = f"{user.institution}\x1f{user.primary_id}\x1f{when}".encode()
    return '"' + hashlib.blake2b(raw, digest_size=16).hexdigest() + '"'


def matches(if_match: str, user: User) -> bool:
    """RFC 9110 ``If-Match`` (strong comparison): ``*`` or a list holding the tag."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag(user) in tags


def later(now: datetime, before: datetime | None) -> datetime:
    """``now``, or one millisecond after ``before`` when the clock has not moved past it."""
    if before is not None and now <= before:
        return before + timedelta(milliseconds=1)
    return now


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond (Alma's date-times carry milliseconds at most)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_override(raw: str | None) -> frozenset[str]:
    """``override=user_group,job_category`` -> model field names; unknown names -> 40166411."""
    if not raw:
        return frozenset()
    names = set()
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        if name not in OVERRIDE_NAMES:
            raise InvalidParameter("override", name)
        names.add(OVERRIDE_NAMES[name])
    return frozenset(names)


def _empty(value: object) -> bool:
    return value is None or value in ("", [])


def merge_for_put(
    stored: User, incoming: User, override: frozenset[str], *, by_hand: bool = True
) -> User:
    """Swap-all with Alma's two exceptions (SPEC section 3).

    1. No roles in the body: the stored roles stay.
    2. External users: a protected field that staff changed by hand, or that arrives empty,
       keeps its stored value unless named in ``override``.

    ``by_hand`` (a person's write: API key, staff token, web form): protected fields of an
    external user whose value the write changes become manual (``users.manual``), so the next
    SIS load keeps them. Otherwise (an identity system's update at sign-in) the marks stay as
    they were, except that ``override`` hands a field back to the SIS.
    """
    merged = copy.deepcopy(incoming)
    if not merged.roles:
        merged.roles = copy.deepcopy(stored.roles)
    manual = dict(stored.manual_fields)
    if stored.is_external:
        for name in PROTECTED_FIELDS:
            if name in override:
                if not by_hand:
                    manual.pop(name, None)
                continue
            if name in manual or _empty(getattr(incoming, name)):
                setattr(merged, name, copy.deepcopy(getattr(stored, name)))
    merged.manual_fields = mark_manual(stored, merged) if by_hand else manual
    return merged


def restore_sis_values(user: User, restore: frozenset[str]) -> None:
    """Named manual fields go back to their last SIS value ("Restore" in Alma's UI) and are
    attached to the SIS again. The value is kept as text (``users.manual.field_text``): the
    list fields are read back from their JSON."""
    for name in restore:
        last = user.manual_fields.pop(name, None)
        if last is None:
            continue
        if name == "rs_libraries":
            user.rs_libraries = [str(code) for code in json.loads(last)] if last else []
        elif name == "library_notices":
            user.library_notices = (
                [LibraryNotice(**notice) for notice in json.loads(last)] if last else []
            )
        else:
            setattr(user, name, last or None)
