"""The stored form of a user: a JSON document built from the dataclasses in ``users.model``.

This is Bookplate's own storage shape, not Alma's wire format (that lives in ``alma/``). Fields
equal to their default are left out, so documents stay small; dates and datetimes are ISO
strings; enums are stored by value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from bookplate.users.model import User

Document = dict[str, Any]
_Decoder = Callable[[Any], Any]

_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class _FieldPlan:
    name: str
    default: Any  # _MISSING when the field is required
    factory: Callable[[], Any] | None
    decode: _Decoder


def _identity(value: Any) -> Any:
    return value


def _decoder(hint: Any) -> _Decoder:
    """A function turning a JSON value back into a value of type ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            decode_inner = _decoder(inner[0])
            return lambda v: None if v is None else decode_inner(v)
        return _identity
    if origin is list:
        (item,) = typing.get_args(hint)
        decode_item = _decoder(item)
        if decode_item is _identity:
            return list
        return lambda v: [decode_item(x) for x in v]
    if origin is dict:
        return dict
    if hint is datetime:
        return datetime.fromisoformat
    if hint is date:
        return date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda v: _from_document(hint, v)
    return _identity


_PLANS: dict[type[Any], tuple[_FieldPlan, ...]] = {}


def _plan(cls: type[Any]) -> tuple[_FieldPlan, ...]:
    found = _PLANS.get(cls)
    if found is not None:
        return found
    hints = typing.get_type_hints(cls)
    plans = []
    for f in dataclasses.fields(cls):
        factory = None if f.default_factory is dataclasses.MISSING else f.default_factory
        default = _MISSING if f.default is dataclasses.MISSING else f.default
        plans.append(_FieldPlan(f.name, default, factory, _decoder(hints[f.name])))
    _PLANS[cls] = tuple(plans)
    return _PLANS[cls]


def _encode(value: Any) -> Any:
    kind = value.__class__
    if kind is str or value is None or kind is bool or kind is int or kind is float:
        return value
    if kind in _PLANS:  # a dataclass met before
        return _to_document(value)
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_document(value)
    raise TypeError(f"cannot store {type(value).__name__} in a user document")


def _to_document(obj: Any) -> Document:
    out: Document = {}
    for plan in _plan(type(obj)):
        value = getattr(obj, plan.name)
        default = plan.default
        if value is None and default is None:
            continue
        if plan.factory is not None:
            if not value and isinstance(value, list | dict):
                continue
        elif (
            default is not _MISSING
            and value == default
            and (type(value) is type(default) or isinstance(value, Enum))
        ):
            continue
        out[plan.name] = value if value.__class__ is str else _encode(value)
    return out


def _from_document(cls: type[Any], doc: Document) -> Any:
    kwargs = {}
    for plan in _plan(cls):
        if plan.name in doc:
            kwargs[plan.name] = plan.decode(doc[plan.name])
    return cls(**kwargs)


def user_to_document(user: User) -> Document:
    """The user as a JSON-ready dict (only what differs from the defaults)."""
    return _to_document(user)


def user_from_document(doc: Document) -> User:
    user = _from_document(User, doc)
    assert isinstance(user, User)
    return user


def stored_user(institution: str, document: Document) -> User:
    """A ``users`` row's user: its document, with the institution kept in its own column."""
    user = user_from_document(document)
    user.institution = institution
    return user
