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

from bookplate.alma.user import _date, _datetime, _flag
from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    Note,
    Phone,
    Role,
    RoleParameter,
    SegmentType,
    Statistic,
    User,
)

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
    read: frozenset[str] = frozenset()
    strict_attributes: bool = True  # any other attribute: _Unusual


_SEG_ATTR = {"segment_type": (_SEGMENT, "segment_type")}
_PREF_ATTRS = {**_SEG_ATTR, "preferred": (_PREFERRED, "preferred")}

_ADDRESS = _Spec(
    Address,
    {
        **{n: (_TEXT, n) for n in ("line1", "line2", "line3", "line4", "line5", "city")},
        "state_province": (_TEXT, "state_province"),
        "postal_code": (_TEXT, "postal_code"),
        "country": (_CODE, "country"),
        "address_note": (_TEXT, "address_note"),
        "start_date": (_DATE, "start_date"),
        "end_date": (_DATE, "end_date"),
        "preferred": (_BOOL, "preferred"),
    },
    _PREF_ATTRS,
    {"address_types": ("address_type", None, "address_types")},
    frozenset({"address_type", "segment_type"}),
)
_EMAIL = _Spec(
    Email,
    {
        "email_address": (_TEXT, "email_address"),
        "description": (_TEXT, "description"),
        "preferred": (_BOOL, "preferred"),
    },
    _PREF_ATTRS,
    {"email_types": ("email_type", None, "email_types")},
    frozenset({"email_type", "segment_type"}),
)
_PHONE = _Spec(
    Phone,
    {
        "phone_number": (_TEXT, "phone_number"),
        "preferred": (_BOOL, "preferred"),
        "preferred_sms": (_BOOL, "preferred_sms"),
    },
    {**_PREF_ATTRS, "preferred_sms": (_PREFERRED, "preferred_sms")},
    {"phone_types": ("phone_type", None, "phone_types")},
    frozenset({"phone_type", "segment_type"}),
)
_CONTACT = _Spec(
    ContactInfo,
    {},
    {},
    {
        "addresses": ("address", _ADDRESS, "addresses"),
        "emails": ("email", _EMAIL, "emails"),
        "phones": ("phone", _PHONE, "phones"),
    },
    frozenset({"address", "email", "phone"}),
    strict_attributes=False,
)
_IDENTIFIER = _Spec(
    Identifier,
    {
        "id_type": (_CODE, "id_type"),
        "value": (_TEXT, "value"),
        "note": (_TEXT, "note"),
        "status": (_CODE, "status"),
    },
    _SEG_ATTR,
    read=frozenset({"segment_type"}),
)
_PARAMETER = _Spec(
    RoleParameter,
    {"type": (_CODE, "type"), "scope": (_CODE, "scope"), "value": (_CODE, "value")},
)
_ROLE = _Spec(
    Role,
    {
        "role_type": (_CODE, "role_type"),
        "scope": (_CODE, "scope"),
        "status": (_CODE, "status"),
        "expiry_date": (_DATE, "expiry_date"),
    },
    {},
    {"parameters": ("parameter", _PARAMETER, "parameters")},
    frozenset({"parameter"}),
)
_NOTE = _Spec(
    Note,
    {
        "note_type": (_CODE, "note_type"),
        "note_text": (_TEXT, "note_text"),
        "user_viewable": (_BOOL, "user_viewable"),
        "popup_note": (_BOOL, "popup_note"),
        "created_by": (_TEXT, "created_by"),
        "created_date": (_DATETIME, "created_date"),
        "note_owner": (_TEXT, "note_owner"),
    },
    _SEG_ATTR,
    read=frozenset({"segment_type"}),
)
_BLOCK = _Spec(
    Block,
    {
        "block_type": (_CODE, "block_type"),
        "block_description": (_CODE, "block_description"),
        "block_status": (_CODE, "block_status"),
        "block_note": (_TEXT, "block_note"),
        "created_by": (_TEXT, "created_by"),
        "created_date": (_DATETIME, "created_date"),
        "expiry_date": (_DATETIME, "expiry_date"),
        "block_owner": (_TEXT, "block_owner"),
    },
    _SEG_ATTR,
    read=frozenset({"segment_type"}),
)
_STATISTIC = _Spec(
    Statistic,
    {
        "statistic_category": (_CODE, "statistic_category"),
        "category_type": (_CODE, "category_type"),
        "statistic_note": (_TEXT, "statistic_note"),
        "statistic_owner": (_TEXT, "statistic_owner"),
    },
    _SEG_ATTR,
    read=frozenset({"segment_type"}),
)
_USER_TEXT = (
    "primary_id",
    "external_id",
    "first_name",
    "middle_name",
    "last_name",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "pref_name_suffix",
    "job_description",
    "web_site_url",
    "pin_number",
    "linking_id",
    "source_institution_code",
    "source_link_id",
)
_USER_CODES = (
    "record_type",
    "account_type",
    "status",
    "user_title",
    "job_category",
    "gender",
    "user_group",
    "campus_code",
    "cataloger_level",
    "preferred_language",
)
_USER_DATES = ("status_date", "birth_date", "expiry_date", "purge_date")
_USER = _Spec(
    User,
    {
        **{n: (_TEXT, n) for n in _USER_TEXT},
        **{n: (_CODE, n) for n in _USER_CODES},
        **{n: (_DATE, n) for n in _USER_DATES},
        "force_password_change": (_FLAG, "force_password_change"),
        "password": (_TEXT, "_password"),  # read (and checked) by the general reader, not kept
    },
    {},
    {
        "user_identifiers": ("user_identifier", _IDENTIFIER, "identifiers"),
        "user_roles": ("user_role", _ROLE, "roles"),
        "user_notes": ("user_note", _NOTE, "notes"),
        "user_blocks": ("user_block", _BLOCK, "blocks"),
        "user_statistics": ("user_statistic", _STATISTIC, "statistics"),
    },
    frozenset(
        {
            "contact_info",
            "user_identifier",
            "user_role",
            "user_note",
            "user_block",
            "user_statistic",
            "proxy_for_user",
            "rs_library",
            "library_notice",
            # lists this reader leaves to the general one
            "proxy_for_users",
            "rs_libraries",
            "library_notices",
        }
    ),
    strict_attributes=False,
)


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
        return _date(text or "", "")
    if kind == _DATETIME:
        return _datetime(text or "", "")
    return _flag(text or "", "")


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
            if name in spec.lists or name == "contact_info":
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
        if name == "contact_info" and spec is _USER:
            if name in kwargs:
                raise _Unusual
            kwargs["contact_info"] = ContactInfo(**_read(child, _CONTACT))
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
