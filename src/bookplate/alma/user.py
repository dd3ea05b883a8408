"""The Alma user record: JSON-shaped dicts <-> ``bookplate.users.model`` objects.

Reading (``user_from_dict``) is liberal, as Alma clients send what they once received:

* booleans as JSON booleans or the strings ``"true"``/``"false"`` in any case;
* codes as ``{"value": .., "desc": ..}`` or a bare string (or number); ``desc`` is ignored;
* ``""``, ``null`` and ``{"value": ""}`` all mean "not set" (``None``; ``False`` for flags);
* dates as ``2030-08-30Z``, ``2030-08-30``, with an offset, or a whole date-time (its date is
  taken); date-times with ``Z``, an offset or none (then UTC), with or without fractions;
* output-only and unknown members are ignored (``link``, ``full_name``, ``created_*`` and
  ``last_modified_*`` of the user, ``requests``/``loans``/``fees``, Esploro's ``researcher``).
  ``password: ""`` means "no password given".

Values of the wrong type (a list or number where text belongs, an object where a date
belongs, an unreadable date) raise :class:`InvalidFieldValue` naming the member by its path,
e.g. ``contact_info.email[0].preferred``. Length limits and code-table checks are the user
service's job, not the codec's. ``primary_id``, ``record_type``, ``account_type`` and
``status`` are ``""`` when absent: the codec does not invent values, the service applies
defaults and reports missing mandatory fields.

Writing (``user_to_dict``) follows what Alma sends on GET:

* a scalar that is ``None`` is omitted, and so is a code that is ``None``;
* codes are ``{"value": code, "desc": description-or-null}``;
* booleans are JSON booleans; ``segment_type`` is on every segment;
* dates are ``2030-08-30Z``; date-times are UTC ``2024-05-30T09:30:10Z`` with milliseconds
  (or microseconds) only when the value has a fraction;
* ``password`` is always ``""``; ``force_password_change`` is ``"TRUE"``, ``"FALSE"`` or ``""``;
* ``full_name`` is always written; ``created_*``/``last_modified_*`` when set; ``link`` only
  when the caller gives one;
* list members (``user_identifier``, ``user_role``, ...) and the three ``contact_info`` lists
  are always written, empty or not.

``user_to_xml`` raises :class:`InvalidFieldValue` for text XML 1.0 cannot carry (control
characters other than tab and line ends); the user service refuses such text on input.

``view="brief"`` keeps the core fields, the e-mails, identifiers and statistics (SPEC 2.4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from bookplate.alma import json as alma_json
from bookplate.alma import tree
from bookplate.alma import xml as alma_xml
from bookplate.alma.values import Reader, format_date, format_datetime
from bookplate.users import shape
from bookplate.users.errors import UnreadableRecord
from bookplate.users.model import User, UserInput
from bookplate.users.shape import Field, Kind, Record

#: ``describe(table_name, code)`` -> the code's description, or None when unknown.
Describe = Callable[[str, str], str | None]
View = Literal["full", "brief"]

# =========================================================================== reading
#
# A record is read member by member in the order of its model class (so the first of several
# wrong members is the one reported, as before the declaration existed), each by its kind.

_Get = Callable[[Reader, str], Any]


def _required(get: _Get) -> _Get:
    return lambda r, key: get(r, key) or ""


def _items(record: Record) -> _Get:
    if record.value is not None:  # each item is {"<value>": code}: the model keeps the code
        value = record.value

        def codes(r: Reader, key: str) -> list[Any]:
            found = (Reader(item, path).code(value) for item, path in r.items(key))
            return [code for code in found if code is not None]

        return codes
    return lambda r, key: [_read(Reader(item, path), record) for item, path in r.items(key)]


_GETTERS: dict[Kind, _Get] = {
    Kind.TEXT: Reader.text,
    Kind.CODE: Reader.code,
    Kind.LOOSE_CODE: Reader.code,
    Kind.DATE: Reader.date,
    Kind.DATETIME: Reader.datetime,
    Kind.BOOLEAN: Reader.boolean,
    Kind.FLAG: Reader.flag,
    Kind.SEGMENT: lambda r, _key: r.segment_type(),
    Kind.CODES: Reader.codes,
}
_UNREAD = frozenset({Kind.WRITE_ONLY, Kind.LINK})


def _getter(f: Field) -> _Get | None:
    """None for a nested record (read from the object opened for it)."""
    if f.kind is Kind.RECORD:
        return None
    if f.kind is Kind.RECORDS:
        assert f.record is not None
        return _items(f.record)
    get = _GETTERS[f.kind]
    return _required(get) if f.required else get


@dataclasses.dataclass(frozen=True, slots=True)
class _ReadPlan:
    make: Callable[..., Any]
    steps: tuple[tuple[str, str, _Get | None, Record | None], ...]  # attr, key, get, record
    objects: tuple[str, ...]  # members opened (and so checked to be objects) first


_READ_PLANS: dict[str, _ReadPlan] = {}


def _read_plan(record: Record) -> _ReadPlan:
    found = _READ_PLANS.get(record.name)
    if found is not None:
        return found
    assert record.make is not None
    order = {f.name: i for i, f in enumerate(dataclasses.fields(record.make))}
    read = [
        f
        for f in record.fields
        if f.input and f.target is not None and f.kind not in _UNREAD and f.target in order
    ]
    read.sort(key=lambda f: order[f.target or ""])
    plan = _ReadPlan(
        record.make,
        tuple((f.target or "", f.name, _getter(f), f.record) for f in read),
        tuple(f.name for f in read if f.kind is Kind.RECORD),
    )
    _READ_PLANS[record.name] = plan
    return plan


def _read(r: Reader, record: Record) -> Any:
    plan = _read_plan(record)
    opened = {key: r.object(key) for key in plan.objects}
    kwargs: dict[str, Any] = {}
    for attr, key, get, nested in plan.steps:
        if get is None:
            assert nested is not None
            kwargs[attr] = _read(opened[key], nested)
        else:
            kwargs[attr] = get(r, key)
    return plan.make(**kwargs)


_PASSWORD = next(f.name for f in shape.USER.fields if f.kind is Kind.WRITE_ONLY)


def user_from_dict(data: Mapping[str, Any]) -> UserInput:
    """Read a JSON-shaped user (from JSON or from XML via ``tree``) into a ``UserInput``."""
    r = Reader(data, "")
    user = _read(r, shape.USER)
    return UserInput(user=user, password=r.text(_PASSWORD))


# =========================================================================== writing
#
# A record is written member by member in the declaration's order, which is Alma's.

_Put = Callable[[dict[str, Any], Any, Describe], None]


def _code(value: str, table: str | None, describe: Describe) -> dict[str, Any]:
    return {"value": value, "desc": describe(table, value) if table else None}


def _put_text(key: str, attr: str, required: bool, always: bool) -> _Put:
    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        value = getattr(obj, attr)
        if always or (value if required else value is not None):
            out[key] = value

    return put


def _put_code(key: str, attr: str, table: str | None, required: bool) -> _Put:
    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        value = getattr(obj, attr)
        if value if required else value is not None:
            out[key] = {"value": value, "desc": describe(table, value) if table else None}

    return put


def _put_with(key: str, attr: str, convert: Callable[[Any], Any], skip_none: bool) -> _Put:
    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        value = getattr(obj, attr)
        if not skip_none or value is not None:
            out[key] = convert(value)

    return put


def _put_codes(key: str, attr: str, table: str | None) -> _Put:
    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        out[key] = [_code(v, table, describe) for v in getattr(obj, attr)]

    return put


def _put_records(key: str, attr: str, record: Record, brief: bool) -> _Put:
    if record.value is not None:  # the model keeps the item's code
        value, table = record.value, record.get(record.value).table

        def codes(out: dict[str, Any], obj: Any, describe: Describe) -> None:
            out[key] = [{value: _code(c, table, describe)} for c in getattr(obj, attr)]

        return codes
    steps = _write_plan(record, brief)

    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        out[key] = [_write(item, steps, describe) for item in getattr(obj, attr)]

    return put


def _put_record(key: str, attr: str, record: Record, brief: bool) -> _Put:
    steps = _write_plan(record, brief)

    def put(out: dict[str, Any], obj: Any, describe: Describe) -> None:
        out[key] = _write(getattr(obj, attr), steps, describe)

    return put


def _same(value: Any) -> Any:
    return value


def _flag_text(value: bool | None) -> str:
    return "" if value is None else ("TRUE" if value else "FALSE")


def _putter(f: Field, brief: bool) -> _Put | None:  # noqa: PLR0911 - one writer per kind
    key, attr, kind = f.name, f.target or "", f.kind
    if kind is Kind.WRITE_ONLY:
        return lambda out, _obj, _describe: out.__setitem__(key, "")
    if kind is Kind.LINK or f.target is None:
        return None  # the link is the caller's; members the model does not hold
    if kind in (Kind.TEXT, Kind.LOOSE_CODE):
        return _put_text(key, attr, f.required, f.always)
    if kind is Kind.CODE:
        return _put_code(key, attr, f.table, f.required)
    if kind is Kind.DATE:
        return _put_with(key, attr, format_date, True)
    if kind is Kind.DATETIME:
        return _put_with(key, attr, format_datetime, True)
    if kind is Kind.FLAG:
        return _put_with(key, attr, _flag_text, False)
    if kind is Kind.SEGMENT:
        return _put_with(key, attr, lambda v: v.value, False)
    if kind is Kind.CODES:
        return _put_codes(key, attr, f.table)
    if kind is Kind.BOOLEAN:
        return _put_with(key, attr, _same, False)
    assert f.record is not None
    if kind is Kind.RECORDS:
        return _put_records(key, attr, f.record, brief)
    return _put_record(key, attr, f.record, brief)


_WRITE_PLANS: dict[tuple[str, bool], tuple[_Put, ...]] = {}


def _write_plan(record: Record, brief: bool) -> tuple[_Put, ...]:
    found = _WRITE_PLANS.get((record.name, brief))
    if found is None:
        puts = (_putter(f, brief) for f in record.fields if f.brief or not brief)
        found = _WRITE_PLANS[(record.name, brief)] = tuple(p for p in puts if p is not None)
    return found


def _write(obj: Any, steps: tuple[_Put, ...], describe: Describe) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for put in steps:
        put(out, obj, describe)
    return out


def user_to_dict(
    user: User, describe: Describe, *, view: View = "full", link: str | None = None
) -> dict[str, Any]:
    """The JSON shape of ``user`` as Alma's GET returns it (see the module notes)."""
    out = _write(user, _write_plan(shape.USER, view == "brief"), describe)
    if link is not None:
        out["link"] = link
    return out


# One entry of ``GET /users`` without ``expand=full`` (SPEC 2.5, sample 02), in Alma's order.
LIST_ENTRY = (
    "primary_id", "first_name", "middle_name", "last_name", "full_name", "record_type",
    "user_group", "account_type", "status", "expiry_date", "password",
)
_LIST_ENTRY_PLAN = tuple(
    put for put in (_putter(shape.USER.get(n), False) for n in LIST_ENTRY) if put is not None
)


def brief_list_entry(user: User, describe: Describe, link: str | None) -> dict[str, Any]:
    """One entry of the ``GET /users`` list without ``expand=full`` (SPEC 2.5, sample 02):
    primary ID, names, record type, user group, status, account type, expiry and the link."""
    out = _write(user, _LIST_ENTRY_PLAN, describe)
    if link is not None:
        out["link"] = link
    return out


# =========================================================================== bytes


def user_from_json(body: bytes) -> UserInput:
    """Read a user from a JSON request body."""
    return user_from_dict(alma_json.parse_json_object(body))


def user_from_xml(body: bytes) -> UserInput:
    """Read a user from an XML request body whose root is ``<user>``."""
    root = alma_xml.parse_xml(body)
    if alma_xml.local_name(root.tag) != "user":
        name = alma_xml.local_name(root.tag)
        raise UnreadableRecord(f"The root element is <{name}>, not <user>.")
    return user_from_dict(tree.element_to_dict(root))


def user_to_json(
    user: User, describe: Describe, *, view: View = "full", link: str | None = None
) -> bytes:
    """The JSON body for one user."""
    return alma_json.dump_json(user_to_dict(user, describe, view=view, link=link))


def user_to_xml(
    user: User, describe: Describe, *, view: View = "full", link: str | None = None
) -> bytes:
    """The XML body for one user."""
    data = user_to_dict(user, describe, view=view, link=link)
    return alma_xml.to_bytes(tree.dict_to_element(data))


ListEntry = User | Mapping[str, Any]


def users_to_dict(
    entries: Sequence[ListEntry],
    total: int,
    describe: Describe | None = None,
    *,
    link_for: Callable[[User], str | None] | None = None,
) -> dict[str, Any]:
    """The ``GET /users`` body as a dict. ``User`` entries become brief entries (their link
    from ``link_for``); dict entries (e.g. ``user_to_dict`` output for ``expand=full``) are
    used as they are. ``user`` is left out when there are no entries."""
    items: list[Mapping[str, Any]] = []
    for entry in entries:
        if isinstance(entry, User):
            link = link_for(entry) if link_for else None
            items.append(brief_list_entry(entry, describe or _no_desc, link))
        else:
            items.append(entry)
    out: dict[str, Any] = {}
    if items:
        out["user"] = items
    out["total_record_count"] = total
    return out


def users_to_json(
    entries: Sequence[ListEntry],
    total: int,
    describe: Describe | None = None,
    *,
    link_for: Callable[[User], str | None] | None = None,
) -> bytes:
    """The ``GET /users`` JSON body."""
    return alma_json.dump_json(users_to_dict(entries, total, describe, link_for=link_for))


def users_to_xml(
    entries: Sequence[ListEntry],
    total: int,
    describe: Describe | None = None,
    *,
    link_for: Callable[[User], str | None] | None = None,
) -> bytes:
    """The ``GET /users`` XML body: ``<users total_record_count="N"><user link="..">``."""
    data = users_to_dict(entries, total, describe, link_for=link_for)
    return alma_xml.to_bytes(tree.users_dict_to_element(data))


def _no_desc(table: str, code: str) -> str | None:
    return None
