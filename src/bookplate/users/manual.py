"""Protected fields that staff changed by hand on an external user (SPEC sections 3, 4.3).

``User.manual_fields`` maps a protected field to the last value the SIS sent for it (as text).
A SIS load keeps the staff value of such a field until the SIS sends that last value again
(the field is then "re-attached"), or staff restore it. Pure: used by the user services (staff
edits) and by the SIS planner.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bookplate.users.model import User
from bookplate.users.shape import PROTECTED_FIELDS

__all__ = ["PROTECTED_FIELDS", "field_text", "mark_manual"]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def field_text(user: User, name: str) -> str:
    """The value of protected field ``name`` as comparable text ("" when blank)."""
    value = getattr(user, name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and not value:
        return ""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def mark_manual(stored: User, edited: User) -> dict[str, str]:
    """``manual_fields`` after staff turned ``stored`` into ``edited``.

    For an external user every protected field whose value staff changed becomes manual,
    remembering the value the SIS last sent (the stored value, unless the field was already
    manual). A field changed back to that last SIS value is restored (no longer manual).
    Internal users have no manual fields.
    """
    if not stored.is_external or not edited.is_external:
        return {}
    manual = dict(stored.manual_fields)
    for name in PROTECTED_FIELDS:
        before = field_text(stored, name)
        after = field_text(edited, name)
        if name in manual:
            if after == manual[name]:
                del manual[name]
        elif after != before:
            manual[name] = before
    return manual
