"""A deep copy of a user record, faster than ``copy.deepcopy`` for the shapes of
``users.model``: dataclasses, lists and dicts of them, and immutable leaves.

``copy.deepcopy`` pays for generality (a memo of every object, ``__reduce_ex__`` per
dataclass), a noticeable share of a create (docs/benchmarks.md, "Figures behind code
choices"). The records hold no shared or cyclic references, so none are kept; anything of
another type goes to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")

_LEAVES: frozenset[type[Any]] = frozenset(
    {str, int, float, bool, type(None), bytes, date, datetime, Decimal}
)
_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _fields(cls: type[Any]) -> tuple[str, ...] | None:
    found = _FIELDS.get(cls)
    if found is None and dataclasses.is_dataclass(cls):
        found = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return found


def copy_record(value: T) -> T:
    """A copy sharing no mutable part with ``value``."""
    # [no-any-return] below: _copy walks any value and is typed Any; the copy has value's type
    return _copy(value)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    cls = value.__class__
    if cls in _LEAVES or isinstance(value, Enum):
        return value
    if cls is list:
        return [_copy(item) for item in value]
    if cls is dict:
        return {key: _copy(item) for key, item in value.items()}
    names = _fields(cls)
    if names is None:
        return copy.deepcopy(value)
    new = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, _copy(getattr(value, name)))
    return new
