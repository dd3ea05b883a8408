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

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from bookplate.errors import BookplateError
from bookplate.sis.merge import CONTACT_LISTS, blank, merge, new_user, prepare
from bookplate.sis.model import (
    Action,
    ActionKind,
    Existing,
    Incoming,
    Mode,
    Profile,
)
from bookplate.users.model import User, normalise_id

__all__ = ["Check", "diff", "match_key", "new_user", "plan_line", "plan_one", "plan_sync",
           "prepare"]

Check = Callable[[User], None]

_COMPARE_SKIP = frozenset({"last_modified_by", "last_modified_date"})


def match_key(match_id: str) -> int:
    """A compact key of a normalised match ID (for the in-file duplicate set)."""
    digest = hashlib.blake2b(normalise_id(match_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _render(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _render(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not blank(getattr(value, f.name))
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
                for part in CONTACT_LISTS:
                    b, a = getattr(before, part), getattr(after, part)
                    if b != a:
                        out[part] = _changed(b, a)
            else:
                out[f.name] = _changed(before, after)
    return out


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
