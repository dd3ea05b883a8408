"""Alma's XML shape <-> Alma's JSON shape, both as plain Python data.

An XML user document is turned into exactly the dict its JSON form holds, and a dict is turned
back into XML by the same table, so XML<->JSON conversion is a pair of inverse mappings and
every other module only ever deals with the JSON shape. The table (``USER`` and the shapes it
nests, derived from the declaration in ``users.shape``) says, per element, whether it is

* a *code* field: XML text plus an optional ``desc`` attribute <-> ``{"value": .., "desc": ..}``;
* a *list*: an XML wrapper holding repeated items <-> a JSON list named after the item
  (``<user_roles><user_role>`` <-> ``"user_role": [...]``); items are objects or codes;
* an *attribute*: an XML attribute <-> a plain JSON member (``preferred``, ``segment_type``,
  ``link``);
* a *boolean*: ``"true"``/``"false"`` text or attribute <-> a JSON boolean;
* a nested *object* (``contact_info``).

Everything else is plain text. Elements the table does not know are kept generically (a leaf
becomes its text, a leaf with ``desc`` becomes a code, an element with children a dict), so
the converter never drops what a client sent; ``bookplate.alma.user`` decides what to use.

Canonical form: XML->dict always yields strings (never ``None``) for text, ``{"value": text,
"desc": desc-or-None}`` for codes and JSON booleans for boolean fields. dict->XML writes
``None`` as an empty element (or no attribute, or no ``desc``). For dicts in canonical form,
and for XML produced by this module, the two directions are exact inverses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from bookplate.alma.xml import local_name
from bookplate.users import shape
from bookplate.users.errors import InvalidFieldValue, UnreadableRecord
from bookplate.users.shape import Kind


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON list that is wrapped in XML: ``wrapper`` holds items named like the JSON key."""

    wrapper: str
    item: Shape | None = None  # None: every item is a code element


@dataclass(frozen=True, slots=True)
class Shape:
    """How the members of one JSON object appear in XML."""

    codes: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    lists: Mapping[str, ListOf] = field(default_factory=dict)
    objects: Mapping[str, Shape] = field(default_factory=dict)
    by_wrapper: Mapping[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        wrappers = {spec.wrapper: key for key, spec in self.lists.items()}
        object.__setattr__(self, "by_wrapper", wrappers)


def shape_of(record: shape.Record) -> Shape:
    """The XML table of one record of the declaration (``users.shape``)."""
    fields = record.fields
    lists: dict[str, ListOf] = {}
    for f in fields:
        if f.kind is Kind.CODES:
            lists[f.name] = ListOf(f.wrapper or f.name)
        elif f.kind is Kind.RECORDS and f.record is not None:
            lists[f.name] = ListOf(f.wrapper or f.name, shape_of(f.record))
    return Shape(
        codes=frozenset(f.name for f in fields if f.kind is Kind.CODE),
        attributes=frozenset(f.name for f in fields if f.xml_attribute),
        booleans=frozenset(f.name for f in fields if f.kind is Kind.BOOLEAN),
        lists=lists,
        objects={
            f.name: shape_of(f.record)
            for f in fields
            if f.kind is Kind.RECORD and f.record is not None
        },
    )


USER = shape_of(shape.USER)
_GENERIC = Shape()


# --------------------------------------------------------------------------- XML -> dict


def _xml_bool(raw: str) -> bool | str:
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return raw  # left for the record reader to reject


def _children(element: Any) -> list[Any]:
    return [child for child in element if isinstance(child.tag, str)]


def _code_from(element: Any) -> Any:
    if _children(element):
        return _generic_from(element)
    return {"value": element.text or "", "desc": element.get("desc")}


def _generic_from(element: Any) -> Any:
    children = _children(element)
    if not children:
        if element.get("desc") is not None:
            return _code_from(element)
        return element.text or ""
    out: dict[str, Any] = {local_name(k): v for k, v in element.attrib.items()}
    for child in children:
        _add(out, local_name(child.tag), _generic_from(child))
    return out


def _add(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key``; a name that repeats becomes a list (the reader then rejects it)."""
    if key not in out:
        out[key] = value
    elif isinstance(out[key], list):
        out[key].append(value)
    else:
        out[key] = [out[key], value]


def element_to_dict(element: Any, shape: Shape = USER) -> dict[str, Any]:
    """The JSON-shaped dict of one XML element (a ``<user>`` by default)."""
    out: dict[str, Any] = {}
    for raw_name, raw in element.attrib.items():
        name = local_name(raw_name)
        out[name] = _xml_bool(raw) if name in shape.booleans else raw
    for child in _children(element):
        name = local_name(child.tag)
        if name in shape.by_wrapper:
            key = shape.by_wrapper[name]
            spec = shape.lists[key]
            items = out.setdefault(key, [])
            if not isinstance(items, list):  # an attribute of the same name came first
                items = out[key] = [items]
            for item in _children(child):
                if spec.item is None:
                    items.append(_code_from(item))
                else:
                    items.append(element_to_dict(item, spec.item))
        elif name in shape.objects:
            _add(out, name, element_to_dict(child, shape.objects[name]))
        elif name in shape.codes:
            _add(out, name, _code_from(child))
        elif name in shape.booleans and not _children(child):
            _add(out, name, _xml_bool(child.text or ""))
        else:
            _add(out, name, _generic_from(child))
    return out


def users_element_to_dict(element: Any) -> dict[str, Any]:
    """``<users total_record_count="N"><user>..`` -> ``{"user": [..], "total_record_count": N}``."""
    users = [
        element_to_dict(child) for child in _children(element) if local_name(child.tag) == "user"
    ]
    out: dict[str, Any] = {}
    if users:
        out["user"] = users
    raw = (element.get("total_record_count") or "").strip()
    if raw and not raw.isdigit():
        raise UnreadableRecord(f"total_record_count is not a number: {raw[:40]}")
    out["total_record_count"] = int(raw) if raw else len(users)
    return out


# --------------------------------------------------------------------------- dict -> XML


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise InvalidFieldValue("value", repr(value)[:60], "not a scalar")


def _sub(parent: Any, name: str) -> Any:
    try:
        return etree.SubElement(parent, name)
    except ValueError:
        raise InvalidFieldValue(name, name, "not usable as an XML element name") from None


def _set_text(element: Any, value: Any) -> None:
    text = _text(value)
    if not text:  # None and "" both give an empty element: <middle_name/>
        return
    try:
        element.text = text
    except ValueError:
        name = local_name(element.tag)
        raise InvalidFieldValue(name, text, "holds characters XML cannot carry") from None


def _set_attribute(element: Any, name: str, value: Any) -> None:
    text = _text(value)
    if text is None:
        return
    try:
        element.set(name, text)
    except ValueError:
        raise InvalidFieldValue(name, text, "holds characters XML cannot carry") from None


def _is_code(value: Any) -> bool:
    return isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}


def _put_code(element: Any, value: Any) -> None:
    if isinstance(value, Mapping) and not _is_code(value):
        _fill(element, value, _GENERIC)
    elif isinstance(value, Mapping):
        _set_text(element, value.get("value"))
        _set_attribute(element, "desc", value.get("desc"))
    else:
        _set_text(element, value)


def _put_value(parent: Any, name: str, value: Any, shape: Shape) -> None:
    if isinstance(value, list):  # a repeated element the table does not know
        for item in value:
            _put_value(parent, name, item, shape)
        return
    child = _sub(parent, name)
    if name in shape.objects and isinstance(value, Mapping):
        _fill(child, value, shape.objects[name])
    elif isinstance(value, Mapping):
        _put_code(child, value)
    else:
        _set_text(child, value)


def _fill(element: Any, data: Mapping[str, Any], shape: Shape) -> None:
    for key, value in data.items():
        if key in shape.attributes and not isinstance(value, Mapping | list):
            _set_attribute(element, key, value)
        elif key in shape.lists:
            if value is None:
                continue
            spec = shape.lists[key]
            wrapper = _sub(element, spec.wrapper)
            for item in value if isinstance(value, list) else [value]:
                child = _sub(wrapper, key)
                if spec.item is not None and isinstance(item, Mapping):
                    _fill(child, item, spec.item)
                else:
                    _put_code(child, item)
        else:
            _put_value(element, key, value, shape)


def dict_to_element(data: Mapping[str, Any], tag: str = "user", shape: Shape = USER) -> Any:
    """The XML element for a JSON-shaped dict (a ``<user>`` by default)."""
    element = etree.Element(tag)
    _fill(element, data, shape)
    return element


def users_dict_to_element(data: Mapping[str, Any]) -> Any:
    """``{"user": [..], "total_record_count": N}`` -> ``<users total_record_count="N">``."""
    users = data.get("user") or []
    root = etree.Element("users")
    root.set("total_record_count", str(data.get("total_record_count", len(users))))
    for entry in users:
        root.append(dict_to_element(entry))
    return root
