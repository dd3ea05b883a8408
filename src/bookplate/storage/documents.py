"""The stored form of a user: a JSON document built from the dataclasses in ``users.model``.

This is Bookplate's own storage shape, not Alma's wire format (that lives in ``alma/``). Fields
equal to their default are left out, so documents stay small; dates and datetimes are ISO
strings; enums are stored by value.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

import orjson

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


def _decoder(hint: Any) -> _Decoder:  # noqa: PLR0911 - one decoder per type form of a model field
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


_SCALARS = (str, bool, int, float)


def _encode(value: Any) -> Any:
    kind = value.__class__
    if kind is str or value is None or kind is bool or kind is int or kind is float:
        return value
    writer = _WRITERS.get(kind)
    if writer is not None:  # a dataclass met before
        return writer(value)
    if isinstance(value, _SCALARS):
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


_WRITERS: dict[type[Any], Callable[[Any], Document]] = {}


def _to_document(obj: Any) -> Document:
    writer = _WRITERS.get(obj.__class__)
    if writer is None:
        writer = _WRITERS[obj.__class__] = _compile_writer(obj.__class__)
    return writer(obj)


def _compile_writer(cls: type[Any]) -> Callable[[Any], Document]:
    """A function giving the document of a ``cls`` instance: every field in declaration
    order, left out when it holds its default (None, an empty list or dict, or a value equal
    to the default and of its type, or an enum member equal to it), other values through
    ``_encode``.

    Written as straight-line code, one test per field (as ``dataclasses`` writes its
    ``__init__``): a user has some fifty fields, mostly unset, and every stored user passes
    here, so a loop over a field plan costs more than the work itself. Field names are
    Python identifiers (dataclass fields), and defaults are passed in by name, not as text.
    """
    namespace: dict[str, Any] = {"_encode": _encode, "_Enum": Enum, "_to_document": _to_document}
    hints = typing.get_type_hints(cls)
    lines = ["def write(obj):", "    out = {}"]
    for i, plan in enumerate(_plan(cls)):
        lines.append(f"    v = obj.{plan.name}")
        if plan.factory is not None:
            keep = "v or not isinstance(v, (list, dict))"
        elif plan.default is _MISSING:
            keep = "True"
        elif plan.default is None:
            keep = "v is not None"
        else:
            d = f"d{i}"
            namespace[d] = plan.default
            same = f"type(v) is type({d}) or isinstance(v, _Enum)"
            keep = f"v is not {d} and not (v == {d} and ({same}))"
        lines.append(f"    if {keep}:")
        value = _value_code(hints.get(plan.name), i, namespace)
        lines.append(f"        out[{plan.name!r}] = {value}")
    lines.append("    return out")
    exec("\n".join(lines), namespace)  # noqa: S102 - code built above from field names only
    writer: Callable[[Any], Document] = namespace["write"]
    return writer


def _value_code(hint: Any, i: int, namespace: dict[str, Any]) -> str:
    """The expression giving the document value of a field's value ``v`` (not a default):
    for the type its hint names, the direct way (a nested dataclass by its own writer, a list
    of them item by item, an enum by its value, a date as ISO text); any value of another
    class, and every hint without a direct way, through ``_encode``, which gives the same."""
    generic = "v if v.__class__ is str else _encode(v)"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            return generic
        hint, origin = inner[0], typing.get_origin(inner[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        if item is str:
            each = "x if x.__class__ is str else _encode(x)"
        elif isinstance(item, type) and dataclasses.is_dataclass(item):
            namespace[f"k{i}"] = item
            each = f"_to_document(x) if x.__class__ is k{i} else _encode(x)"
        else:
            return generic
        return f"[{each} for x in v] if v.__class__ is list else _encode(v)"
    if not isinstance(hint, type) or hint is str:
        return generic
    namespace[f"k{i}"] = hint
    if dataclasses.is_dataclass(hint):
        return f"_to_document(v) if v.__class__ is k{i} else _encode(v)"
    if issubclass(hint, Enum):
        return f"v.value if v.__class__ is k{i} else {generic}"
    if hint is date or hint is datetime:
        return f"v.isoformat() if v.__class__ is k{i} else {generic}"
    return generic


def _from_document(cls: type[Any], doc: Document) -> Any:
    kwargs = {}
    for plan in _plan(cls):
        if plan.name in doc:
            kwargs[plan.name] = plan.decode(doc[plan.name])
    return cls(**kwargs)


def user_to_document(user: User) -> Document:
    """The user as a JSON-ready dict (only what differs from the defaults)."""
    return _to_document(user)


_JSON = json.JSONEncoder(separators=(",", ":")).encode
# A number token with a fraction or an exponent where a value starts (after a key's closing
# quote and colon, a comma or an opening bracket): how orjson writes a float. One pattern per
# start, each beginning with literal text that the regular expression engine looks for
# quickly; a timestamp's ":52.738" inside a string does not match (a colon not after a
# quote), other text inside a string may (harmless: ``json`` then writes the document).
_FLOAT_AFTER_KEY = re.compile(rb'":-?[0-9]+[.eE]').search
_FLOAT_AFTER_COMMA = re.compile(rb",-?[0-9]+[.eE]").search
_FLOAT_FIRST_IN_LIST = re.compile(rb"\[-?[0-9]+[.eE]").search
_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # written as a UTF-16 surrogate pair, as ``json`` writes it
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def document_text(doc: Document) -> str:
    """The JSON text a document is stored as: exactly ``json`` with compact separators and
    ``ensure_ascii`` (the text stored before orjson was used here).

    orjson writes it several times faster. Where its text could differ, ``json`` writes it
    instead: floats (orjson spells some differently, and NaN as null), a null anywhere (it
    might be a NaN), and anything orjson refuses (lone surrogates, integers beyond 64 bits).
    Characters from U+007F up, which orjson writes as they are, are escaped as ``json``
    escapes them."""
    try:
        data = orjson.dumps(doc)
    except TypeError:  # orjson.JSONEncodeError included
        return _JSON(doc)
    if (
        b"null" in data  # NaN and infinities are written as null by orjson
        or _FLOAT_AFTER_KEY(data) is not None
        or _FLOAT_AFTER_COMMA(data) is not None
        or _FLOAT_FIRST_IN_LIST(data) is not None
    ):
        return _JSON(doc)
    if data.isascii() and b"\x7f" not in data:
        return data.decode("ascii")
    return _NOT_ASCII.sub(_escape, data.decode("utf-8"))


def user_from_document(doc: Document) -> User:
    user = _from_document(User, doc)
    assert isinstance(user, User)
    return user


def stored_user(institution: str, document: Document) -> User:
    """A ``users`` row's user: its document, with the institution kept in its own column."""
    user = user_from_document(document)
    user.institution = institution
    return user
