"""The pure planner: ``plan_sync(incoming, existing, profile)`` -> actions.

No I/O. Alma's synchronize rules (SPEC section 4.3) live here:

* only external users of this profile are changed; a record matching an internal user or an
  external user of another profile is rejected, and nothing of it is touched;
* swap-all for the rest: the file's record replaces the stored one, absent fields are removed;
* the stored user's **internal** segments (identifiers, addresses, emails, phones, notes,
  blocks, statistics added by staff) are kept; its external segments are replaced by the file's;
* protected fields staff changed by hand (``User.manual_fields``) keep the staff value at
  every load, which only updates the SIS value remembered for them, until the file carries
  the staff value itself (the field is then attached again); blank protected fields still
  attached are cleared (``user_group``: reset to the profile default);
* roles, password, proxies, linking data and creation data are never taken from the file;
* per-field rules of the profile (keep / replace / erase) for other core fields.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from bookplate.errors import BookplateError
from bookplate.sis.model import (
    Action,
    ActionKind,
    Existing,
    FieldRule,
    Incoming,
    Mode,
    Profile,
)
from bookplate.users.manual import PROTECTED_FIELDS, field_text
from bookplate.users.model import (
    AccountType,
    ContactInfo,
    SegmentType,
    User,
    normalise_id,
)

Check = Callable[[User], None]

_SEGMENT_LISTS = ("identifiers", "notes", "blocks", "statistics")
_CONTACT_LISTS = ("addresses", "emails", "phones")
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
_COMPARE_SKIP = frozenset({"last_modified_by", "last_modified_date"})


def match_key(match_id: str) -> int:
    """A compact key of a normalised match ID (for the in-file duplicate set)."""
    digest = hashlib.blake2b(normalise_id(match_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _blank(value: object) -> bool:
    return value is None or value in ("", [])


def _segments(user: User) -> list[Any]:
    out: list[Any] = []
    for name in _SEGMENT_LISTS:
        out.extend(getattr(user, name))
    for name in _CONTACT_LISTS:
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


def _render(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _render(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not _blank(getattr(value, f.name))
        }
    if isinstance(value, list):
        return [_render(v) for v in value]
    return str(value)


def _changed(before: Any, after: Any) -> list[Any]:
    """[old, new] of a field; of a list only the entries that changed: those only in the old
    list and those only in the new one (an email whose address changed is one entry out and
    one in, not the user's whole list twice). A list only reordered shows both lists."""
    if not isinstance(before, list) or not isinstance(after, list):
        return [_render(before), _render(after)]
    old, new = _render(before), _render(after)
    gone = [entry for entry in old if entry not in new]
    came = [entry for entry in new if entry not in old]
    if not gone and not came:
        return [old, new]
    return [gone, came]


def diff(old: User, new: User) -> dict[str, list[Any]]:
    """Field -> [old, new] for every top-level field that differs (of a list field: the
    entries removed and the entries added, ``_changed``)."""
    out: dict[str, list[Any]] = {}
    for f in dataclasses.fields(User):
        if f.name in _COMPARE_SKIP:
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before != after:
            if f.name == "contact_info":
                for part in _CONTACT_LISTS:
                    b, a = getattr(before, part), getattr(after, part)
                    if b != a:
                        out[part] = _changed(b, a)
            else:
                out[f.name] = _changed(before, after)
    return out


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
    for name in _CONTACT_LISTS:
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
        elif _blank(getattr(incoming, name)):
            setattr(merged, name, _reset_value(name, profile))
    merged.manual_fields = manual
    # Profile rules for other fields.
    for name, rule in profile.field_rules.items():
        if name in PROTECTED_FIELDS or rule is FieldRule.ERASE:
            continue
        new, old = getattr(incoming, name), getattr(stored, name)
        if (rule is FieldRule.KEEP and not _blank(old)) or (
            rule is FieldRule.REPLACE and _blank(new)
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
    if _blank(user.user_group):
        user.user_group = profile.default_user_group
    if user.expiry_date is None and profile.expiry_days is not None:
        user.expiry_date = today + timedelta(days=profile.expiry_days)
    if user.purge_date is None and profile.purge_days is not None and user.expiry_date:
        user.purge_date = user.expiry_date + timedelta(days=profile.purge_days)
    return user


def _reject(item: Incoming, reason: str, pk: int | None = None) -> Action:
    primary = item.user.primary_id if item.user is not None else None
    return Action(
        ActionKind.REJECT,
        item.record_no,
        item.match_id,
        primary or None,
        pk=pk,
        reason=reason,
        fingerprint=item.fingerprint,
    )


def plan_one(  # noqa: PLR0911 - one outcome per synchronize rule, in Alma's order
    item: Incoming,
    found: Existing | None,
    profile: Profile,
    *,
    mode: Mode,
    today: date,
    check: Check | None,
) -> Action:
    if item.error is not None or item.user is None:
        return _reject(item, item.error or "unreadable record")
    incoming = prepare(item.user, profile)
    if found is None:
        if mode is Mode.SYNCHRONIZE and not profile.add_unmatched:
            return _reject(item, "no user matches and the profile does not add unmatched users")
        user = new_user(incoming, profile, today)
        try:
            if check is not None:
                check(user)
        except BookplateError as exc:
            return _reject(item, str(exc))
        return Action(
            ActionKind.CREATE,
            item.record_no,
            item.match_id,
            user.primary_id,
            user=user,
            fingerprint=item.fingerprint,
        )
    stored = found.user
    if not stored.is_external:
        return _reject(
            item,
            f"matches the internal user {stored.primary_id}; the SIS never changes internal users",
            found.pk,
        )
    if stored.external_id != profile.code:
        return _reject(
            item,
            f"matches {stored.primary_id}, a user of the profile {stored.external_id}",
            found.pk,
        )
    if mode is Mode.IMPORT:
        return Action(
            ActionKind.UNCHANGED,
            item.record_no,
            item.match_id,
            stored.primary_id,
            pk=found.pk,
            reason="exists already (import creates new users only)",
        )
    merged = merge(stored, incoming, profile, item.untouched)
    try:
        if check is not None:
            check(merged)
    except BookplateError as exc:
        return _reject(item, str(exc), found.pk)
    changes = diff(stored, merged)
    kind = ActionKind.UPDATE if changes else ActionKind.UNCHANGED
    return Action(
        kind,
        item.record_no,
        item.match_id,
        merged.primary_id,
        user=merged,
        pk=found.pk,
        diff=changes,
        fingerprint=item.fingerprint,
    )


def plan_sync(
    incoming: Iterable[Incoming],
    existing: Mapping[str, Existing],
    profile: Profile,
    *,
    mode: Mode = Mode.SYNCHRONIZE,
    today: date | None = None,
    check: Check | None = None,
    seen: set[int] | None = None,
) -> list[Action]:
    """One action per incoming record.

    ``existing`` maps the normalised match ID to the stored user it finds. ``check`` validates
    a record to be stored (``users.validation`` bound to the institution's code tables); its
    errors reject the record. ``seen`` carries the match IDs met so far in the file across
    calls: a match ID met again is rejected (the first record wins).
    """
    day = today or date.today()
    met = seen if seen is not None else set()
    actions: list[Action] = []
    for item in incoming:
        if item.match_id is None:
            if item.error is None:
                item.error = f"the record has no match ID ({profile.match_id_type})"
            actions.append(_reject(item, item.error))
            continue
        key = match_key(item.match_id)
        if key in met:
            actions.append(
                _reject(item, f"match ID {item.match_id} appears earlier in the same file")
            )
            continue
        met.add(key)
        found = existing.get(normalise_id(item.match_id))
        actions.append(plan_one(item, found, profile, mode=mode, today=day, check=check))
    return actions


def plan_line(action: Action) -> str:
    return json.dumps(action.to_dict(), ensure_ascii=False, default=str)
