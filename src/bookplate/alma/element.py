"""A direct reader of plain ``<user>`` elements: lxml element -> ``User`` in one walk.

The general reader builds Alma's JSON shape first (``tree.element_to_dict``) and reads that
(``user.user_from_dict``), after a depth check of the whole element. For the records a SIS file
is made of, that is most of the time spent on a record. ``user_from_element`` reads the same
element straight into the dataclasses and gives exactly the ``User`` the general reader gives,
but only for elements it recognises completely: every element and attribute where the general
reader expects it, no repeated scalar, no unknown element with children, no value the general
reader would refuse. For anything else it returns ``None`` and the caller uses the general
reader, which then gives its result or its error message (so both paths agree by construction;
``tests/unit/alma/test_alma_element.py`` checks them against each other).

Unknown leaf elements (``<full_name>`` in Alma's own exports, for example) are ignored, as the
general reader ignores them. Everything accepted is at most seven levels deep, so the depth
check cannot fail for an element this reader accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bookplate.alma.values import read_date, read_datetime, read_flag
from bookplate.users import shape
from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import SegmentType, User
from bookplate.users.shape import Kind, Record

_TEXT, _CODE, _DATE, _DATETIME, _BOOL, _FLAG = range(6)
_SEGMENT, _PREFERRED = 100, 101  # attribute kinds


class _Unusual(Exception):
    """The element is not one this reader recognises completely."""


@dataclass(frozen=True, slots=True)
class _Spec:
    """How one object of the record appears in XML, and which names the general reader reads
    in it (``read``: a name there in an unexpected form means the general reader decides)."""

    make: Callable[..., Any]
    fields: dict[str, tuple[int, str]]  # element name -> (kind, dataclass field)
    attributes: dict[str, tuple[int, str]] = field(default_factory=dict)
    lists: dict[str, tuple[str, _Spec | None, str]] = field(default_factory=dict)
    objects: dict[str, tuple[_Spec, str]] = field(default_factory=dict)  # contact_info
    read: frozenset[str] = frozenset()
    strict_attributes: bool = True  # any other attribute: _Unusual


# Lists the general reader is left to read: rare in SIS files.
_GENERAL_ONLY = frozenset({"proxy_for_user", "rs_library", "library_notice"})
_VALUE_KINDS = {
    Kind.TEXT: _TEXT,
    Kind.CODE: _CODE,
    Kind.LOOSE_CODE: _CODE,
    Kind.DATE: _DATE,
    Kind.DATETIME: _DATETIME,
    Kind.BOOLEAN: _BOOL,
    Kind.FLAG: _FLAG,
}


def _spec(record: Record, strict: bool = True) -> _Spec:
    """The fast reader's table for one record of the declaration (``users.shape``)."""
    assert record.make is not None
    fields: dict[str, tuple[int, str]] = {}
    attributes: dict[str, tuple[int, str]] = {}
    lists: dict[str, tuple[str, _Spec | None, str]] = {}
    objects: dict[str, tuple[_Spec, str]] = {}
    read: set[str] = set()
    for f in record.fields:
        kind, target = f.kind, f.target
        if kind is Kind.WRITE_ONLY:  # read (and checked) by the general reader, not kept
            fields[f.name] = (_TEXT, "_password")
        if not f.input or target is None:
            continue
        if kind in _VALUE_KINDS:
            fields[f.name] = (_VALUE_KINDS[kind], target)
        if f.xml_attribute:
            attributes[f.name] = (_SEGMENT if kind is Kind.SEGMENT else _PREFERRED, target)
            if f.name not in fields:
                read.add(f.name)
        if kind is Kind.CODES:
            lists[f.wrapper or f.name] = (f.name, None, target)
            read.add(f.name)
        elif kind is Kind.RECORDS and f.record is not None:
            read.add(f.name)
            if f.name in _GENERAL_ONLY:
                read.add(f.wrapper or f.name)
            else:
                lists[f.wrapper or f.name] = (f.name, _spec(f.record), target)
        elif kind is Kind.RECORD and f.record is not None:
            read.add(f.name)
            objects[f.name] = (_spec(f.record, strict=False), target)
    return _Spec(record.make, fields, attributes, lists, objects, frozenset(read), strict)


_USER = _spec(shape.USER, strict=False)


def _local(name: str) -> str:
    return name.rpartition("}")[2] if name[:1] == "{" else name


def _boolean(raw: str) -> bool:
    if raw == "true":  # the usual spelling, before the general rule below
        return True
    if raw == "false":
        return False
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if raw == "":
        return False
    raise _Unusual


_SEGMENTS = {"": SegmentType.INTERNAL, **{m.value.lower(): m for m in SegmentType}}
_SEGMENTS_AS_SENT = {m.value: m for m in SegmentType}  # "External", "Internal"


def _segment_type(raw: str) -> SegmentType:
    found = _SEGMENTS_AS_SENT.get(raw) or _SEGMENTS.get(raw.lower())
    if found is None:
        raise _Unusual
    return found


def _value(kind: int, child: Any) -> Any:
    if len(child):
        raise _Unusual  # an element where a value belongs
    text = child.text
    if kind == _CODE:
        return text or None
    if kind == _BOOL:
        return _boolean(text or "")
    if child.get("desc") is not None:
        raise _Unusual  # read as a code by the general reader, where text belongs
    if kind == _TEXT:
        return text or None
    if kind == _DATE:
        return read_date(text or "", "")
    if kind == _DATETIME:
        return read_datetime(text or "", "")
    return read_flag(text or "", "")


def _items(wrapper: Any, name: str, spec: _Spec | None, items: list[Any]) -> None:
    """The items of a list wrapper (codes when ``spec`` is None), added to ``items``."""
    for item in wrapper:
        tag = item.tag
        if tag != name:  # a comment, a processing instruction, a namespace or another name
            if not isinstance(tag, str):
                continue
            if _local(tag) != name:
                raise _Unusual
        if spec is None:
            if len(item):
                raise _Unusual
            text = item.text
            if text:
                items.append(text)
        else:
            items.append(spec.make(**_read(item, spec)))


def _read(element: Any, spec: _Spec) -> dict[str, Any]:  # noqa: PLR0912 - one branch per XML shape of a field, kept inline on the SIS hot path
    kwargs: dict[str, Any] = {}  # a field met twice (or as attribute and element): _Unusual
    for raw_name, raw in element.items():
        name = raw_name if raw_name[0] != "{" else _local(raw_name)
        attribute = spec.attributes.get(name)
        if attribute is None:
            if spec.strict_attributes or name in spec.fields or name in spec.read:
                raise _Unusual
            if name in spec.lists or name in spec.objects:
                raise _Unusual
            continue
        kind, target = attribute
        kwargs[target] = _segment_type(raw) if kind == _SEGMENT else _boolean(raw)
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag if tag[0] != "{" else _local(tag)
        found = spec.fields.get(name)
        if found is not None:
            kind, target = found
            if target in kwargs or len(child):
                raise _Unusual  # repeated (a list where one value belongs), or nested
            if kind == _CODE:
                kwargs[target] = child.text or None
            elif kind == _TEXT:
                if child.get("desc") is not None:
                    raise _Unusual  # read as a code by the general reader
                kwargs[target] = child.text or None
            else:
                kwargs[target] = _value(kind, child)
            continue
        listed = spec.lists.get(name)
        if listed is not None:
            item_name, item_spec, target = listed
            _items(child, item_name, item_spec, kwargs.setdefault(target, []))
            continue
        nested = spec.objects.get(name)
        if nested is not None:
            object_spec, target = nested
            if target in kwargs:
                raise _Unusual
            kwargs[target] = object_spec.make(**_read(child, object_spec))
            continue
        if name in spec.read or name in spec.attributes or len(child):
            raise _Unusual  # read by the general reader in another form, or nested content
    return kwargs


def user_from_element(element: Any) -> User | None:
    """The ``User`` of a ``<user>`` element, as ``user_from_dict(element_to_dict(element))``
    gives it; ``None`` when the element is not one this reader recognises completely."""
    try:
        kwargs = _read(element, _USER)
    except (_Unusual, InvalidFieldValue, ValueError, TypeError):
        return None
    kwargs.pop("_password", None)
    for name in ("primary_id", "record_type", "account_type", "status"):
        if kwargs.get(name) is None:
            kwargs[name] = ""
    return User(**kwargs)
