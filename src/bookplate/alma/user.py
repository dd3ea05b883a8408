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

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal, TypeVar

from bookplate.alma import json as alma_json
from bookplate.alma import tree
from bookplate.alma import xml as alma_xml
from bookplate.users.defaults import FIELD_TABLES
from bookplate.users.errors import InvalidFieldValue, UnreadableRecord
from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    LibraryNotice,
    Note,
    Phone,
    ProxyFor,
    Role,
    RoleParameter,
    SegmentType,
    Statistic,
    User,
    UserInput,
)

#: ``describe(table_name, code)`` -> the code's description, or None when unknown.
Describe = Callable[[str, str], str | None]
View = Literal["full", "brief"]
_T = TypeVar("_T")

# =========================================================================== reading


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else value


def _wrong(path: str, value: Any, reason: str) -> InvalidFieldValue:
    return InvalidFieldValue(path, _show(value)[:200], reason)


class _Reader:
    """Reads the members of one JSON object, naming each by its path for error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise _wrong(path or "user", data, "expected an object")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        raise _wrong(self.at(key), value, "expected text")

    def code(self, key: str) -> str | None:
        return _code_value(self.data.get(key), self.at(key))

    def flag(self, key: str) -> bool | None:
        return _flag(self.data.get(key), self.at(key))

    def boolean(self, key: str) -> bool:
        return bool(self.flag(key))

    def date(self, key: str) -> date | None:
        return _date(self.data.get(key), self.at(key))

    def datetime(self, key: str) -> datetime | None:
        return _datetime(self.data.get(key), self.at(key))

    def segment_type(self) -> SegmentType:
        key = "segment_type"
        raw = _code_value(self.data.get(key), self.at(key))
        if raw is None:
            return SegmentType.INTERNAL
        for member in SegmentType:
            if raw.lower() == member.value.lower():
                return member
        raise _wrong(self.at(key), raw, "expected Internal or External")

    def items(self, key: str) -> list[tuple[Any, str]]:
        """The entries of a list member with their paths; ``null`` is an empty list."""
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if isinstance(value, Mapping):  # one item sent without its list
            value = [value]
        if not isinstance(value, list):
            raise _wrong(self.at(key), value, "expected a list")
        return [(item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]

    def object(self, key: str) -> _Reader:
        value = self.data.get(key)
        return _Reader({} if value is None or value == "" else value, self.at(key))


def _code_value(value: Any, path: str) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _wrong(path, value, "expected a code")


def _flag(value: Any, path: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise _wrong(path, value, "expected true or false")


_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")


def _date(value: Any, path: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _wrong(path, value, "expected a date such as 2030-08-30Z")
    text = value.strip()
    match = _DATE.fullmatch(text)
    try:
        if match:
            return date.fromisoformat(match.group(1))
        return _parse_datetime(text).date()
    except ValueError:
        raise _wrong(path, value, "expected a date such as 2030-08-30Z") from None


def _parse_datetime(text: str) -> datetime:
    match = _DATE.fullmatch(text)
    if match:  # a bare date given for a date-time: midnight UTC
        return datetime.combine(date.fromisoformat(match.group(1)), time(), tzinfo=UTC)
    if len(text) < 11 or text[10] not in "Tt ":
        raise ValueError(text)
    parsed = datetime.fromisoformat(text.replace("z", "Z"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:  # held in UTC from here on, so writing it out can never overflow
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(text) from None


def _datetime(value: Any, path: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _wrong(path, value, "expected a date-time such as 2024-05-30T09:30:10Z")
    try:
        return _parse_datetime(value.strip())
    except ValueError:
        raise _wrong(path, value, "expected a date-time such as 2024-05-30T09:30:10Z") from None


def _codes(reader: _Reader, key: str) -> list[str]:
    out: list[str] = []
    for item, path in reader.items(key):
        code = _code_value(item, path)
        if code is not None:
            out.append(code)
    return out


def _address(r: _Reader) -> Address:
    return Address(
        line1=r.text("line1"),
        line2=r.text("line2"),
        line3=r.text("line3"),
        line4=r.text("line4"),
        line5=r.text("line5"),
        city=r.text("city"),
        state_province=r.text("state_province"),
        postal_code=r.text("postal_code"),
        country=r.code("country"),
        address_note=r.text("address_note"),
        start_date=r.date("start_date"),
        end_date=r.date("end_date"),
        address_types=_codes(r, "address_type"),
        preferred=r.boolean("preferred"),
        segment_type=r.segment_type(),
    )


def _email(r: _Reader) -> Email:
    return Email(
        email_address=r.text("email_address"),
        description=r.text("description"),
        email_types=_codes(r, "email_type"),
        preferred=r.boolean("preferred"),
        segment_type=r.segment_type(),
    )


def _phone(r: _Reader) -> Phone:
    return Phone(
        phone_number=r.text("phone_number"),
        phone_types=_codes(r, "phone_type"),
        preferred=r.boolean("preferred"),
        preferred_sms=r.boolean("preferred_sms"),
        segment_type=r.segment_type(),
    )


def _identifier(r: _Reader) -> Identifier:
    return Identifier(
        id_type=r.code("id_type"),
        value=r.text("value"),
        note=r.text("note"),
        status=r.code("status"),
        segment_type=r.segment_type(),
    )


def _parameter(r: _Reader) -> RoleParameter:
    return RoleParameter(type=r.code("type"), scope=r.code("scope"), value=r.code("value"))


def _role(r: _Reader) -> Role:
    return Role(
        role_type=r.code("role_type"),
        scope=r.code("scope"),
        status=r.code("status"),
        expiry_date=r.date("expiry_date"),
        parameters=[_parameter(_Reader(i, p)) for i, p in r.items("parameter")],
    )


def _note(r: _Reader) -> Note:
    return Note(
        note_type=r.code("note_type"),
        note_text=r.text("note_text"),
        user_viewable=r.boolean("user_viewable"),
        popup_note=r.boolean("popup_note"),
        created_by=r.text("created_by"),
        created_date=r.datetime("created_date"),
        note_owner=r.text("note_owner"),
        segment_type=r.segment_type(),
    )


def _block(r: _Reader) -> Block:
    return Block(
        block_type=r.code("block_type"),
        block_description=r.code("block_description"),
        block_status=r.code("block_status"),
        block_note=r.text("block_note"),
        created_by=r.text("created_by"),
        created_date=r.datetime("created_date"),
        expiry_date=r.datetime("expiry_date"),
        block_owner=r.text("block_owner"),
        segment_type=r.segment_type(),
    )


def _statistic(r: _Reader) -> Statistic:
    return Statistic(
        statistic_category=r.code("statistic_category"),
        category_type=r.code("category_type"),
        statistic_note=r.text("statistic_note"),
        statistic_owner=r.text("statistic_owner"),
        segment_type=r.segment_type(),
    )


def _proxy(r: _Reader) -> ProxyFor:
    return ProxyFor(
        primary_id=r.text("primary_id"),
        full_name=r.text("full_name"),
        proxy_type=r.code("proxy_type"),
    )


def _notice(r: _Reader) -> LibraryNotice:
    return LibraryNotice(code=r.code("code"), value=r.boolean("value"))


def _rs_library(r: _Reader) -> str | None:
    return r.code("code")


def _segments(r: _Reader, key: str, read: Callable[[_Reader], _T]) -> list[_T]:
    return [read(_Reader(item, path)) for item, path in r.items(key)]


def user_from_dict(data: Mapping[str, Any]) -> UserInput:
    """Read a JSON-shaped user (from JSON or from XML via ``tree``) into a ``UserInput``."""
    r = _Reader(data, "")
    contact = r.object("contact_info")
    user = User(
        primary_id=r.text("primary_id") or "",
        record_type=r.code("record_type") or "",
        account_type=r.code("account_type") or "",
        external_id=r.text("external_id"),
        status=r.code("status") or "",
        status_date=r.date("status_date"),
        first_name=r.text("first_name"),
        middle_name=r.text("middle_name"),
        last_name=r.text("last_name"),
        pref_first_name=r.text("pref_first_name"),
        pref_middle_name=r.text("pref_middle_name"),
        pref_last_name=r.text("pref_last_name"),
        pref_name_suffix=r.text("pref_name_suffix"),
        user_title=r.code("user_title"),
        job_category=r.code("job_category"),
        job_description=r.text("job_description"),
        gender=r.code("gender"),
        user_group=r.code("user_group"),
        campus_code=r.code("campus_code"),
        web_site_url=r.text("web_site_url"),
        cataloger_level=r.code("cataloger_level"),
        preferred_language=r.code("preferred_language"),
        birth_date=r.date("birth_date"),
        expiry_date=r.date("expiry_date"),
        purge_date=r.date("purge_date"),
        pin_number=r.text("pin_number"),
        force_password_change=r.flag("force_password_change"),
        contact_info=ContactInfo(
            addresses=_segments(contact, "address", _address),
            emails=_segments(contact, "email", _email),
            phones=_segments(contact, "phone", _phone),
        ),
        identifiers=_segments(r, "user_identifier", _identifier),
        roles=_segments(r, "user_role", _role),
        notes=_segments(r, "user_note", _note),
        blocks=_segments(r, "user_block", _block),
        statistics=_segments(r, "user_statistic", _statistic),
        proxy_for=_segments(r, "proxy_for_user", _proxy),
        rs_libraries=[code for code in _segments(r, "rs_library", _rs_library) if code is not None],
        library_notices=_segments(r, "library_notice", _notice),
        linking_id=r.text("linking_id"),
        source_institution_code=r.text("source_institution_code"),
        source_link_id=r.text("source_link_id"),
    )
    return UserInput(user=user, password=r.text("password"))


# =========================================================================== writing


def format_date(value: date) -> str:
    """``2030-08-30Z``: Alma's way of writing an ``xs:date``."""
    return value.isoformat() + "Z"


def format_datetime(value: datetime) -> str:
    """UTC with ``Z``; milliseconds (or microseconds) only when the value has a fraction."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = utc.replace(tzinfo=None, microsecond=0).isoformat()
    micro = utc.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"


class _Writer:
    """Builds one JSON object, skipping ``None`` scalars."""

    __slots__ = ("describe", "out")

    def __init__(self, describe: Describe) -> None:
        self.describe = describe
        self.out: dict[str, Any] = {}

    def text(self, key: str, value: str | None) -> None:
        if value is not None:
            self.out[key] = value

    def code(self, key: str, value: str | None, table: str | None = None) -> None:
        if value is not None:
            self.out[key] = _code(value, table, self.describe)

    def date(self, key: str, value: date | None) -> None:
        if value is not None:
            self.out[key] = format_date(value)

    def datetime(self, key: str, value: datetime | None) -> None:
        if value is not None:
            self.out[key] = format_datetime(value)


def _code(value: str, table: str | None, describe: Describe) -> dict[str, Any]:
    return {"value": value, "desc": describe(table, value) if table else None}


def _table(field: str) -> str | None:
    return FIELD_TABLES.get(field)


def _code_list(values: list[str], field: str, describe: Describe) -> list[dict[str, Any]]:
    return [_code(v, _table(field), describe) for v in values]


def _address_out(a: Address, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["preferred"] = a.preferred
    w.out["segment_type"] = a.segment_type.value
    for key in ("line1", "line2", "line3", "line4", "line5", "city", "state_province"):
        w.text(key, getattr(a, key))
    w.text("postal_code", a.postal_code)
    w.code("country", a.country, _table("country"))
    w.text("address_note", a.address_note)
    w.date("start_date", a.start_date)
    w.date("end_date", a.end_date)
    w.out["address_type"] = _code_list(a.address_types, "address_type", describe)
    return w.out


def _email_out(e: Email, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["preferred"] = e.preferred
    w.out["segment_type"] = e.segment_type.value
    w.text("email_address", e.email_address)
    w.text("description", e.description)
    w.out["email_type"] = _code_list(e.email_types, "email_type", describe)
    return w.out


def _phone_out(p: Phone, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["preferred"] = p.preferred
    w.out["preferred_sms"] = p.preferred_sms
    w.out["segment_type"] = p.segment_type.value
    w.text("phone_number", p.phone_number)
    w.out["phone_type"] = _code_list(p.phone_types, "phone_type", describe)
    return w.out


def _identifier_out(i: Identifier, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["segment_type"] = i.segment_type.value
    w.code("id_type", i.id_type, _table("id_type"))
    w.text("value", i.value)
    w.text("note", i.note)
    w.text("status", i.status)
    return w.out


def _role_out(role: Role, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.code("status", role.status, _table("role_status"))
    w.code("scope", role.scope)
    w.code("role_type", role.role_type, _table("role_type"))
    w.date("expiry_date", role.expiry_date)
    params = []
    for p in role.parameters:
        pw = _Writer(describe)
        pw.code("type", p.type)
        pw.code("scope", p.scope)
        pw.code("value", p.value)
        params.append(pw.out)
    w.out["parameter"] = params
    return w.out


def _note_out(n: Note, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["segment_type"] = n.segment_type.value
    w.code("note_type", n.note_type, _table("note_type"))
    w.text("note_text", n.note_text)
    w.out["user_viewable"] = n.user_viewable
    w.out["popup_note"] = n.popup_note
    w.text("created_by", n.created_by)
    w.datetime("created_date", n.created_date)
    w.text("note_owner", n.note_owner)
    return w.out


def _block_out(b: Block, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["segment_type"] = b.segment_type.value
    w.code("block_type", b.block_type, _table("block_type"))
    w.code("block_description", b.block_description, _table("block_description"))
    w.text("block_status", b.block_status)
    w.text("block_note", b.block_note)
    w.text("created_by", b.created_by)
    w.datetime("created_date", b.created_date)
    w.datetime("expiry_date", b.expiry_date)
    w.text("block_owner", b.block_owner)
    return w.out


def _statistic_out(s: Statistic, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.out["segment_type"] = s.segment_type.value
    w.code("statistic_category", s.statistic_category, _table("statistic_category"))
    w.code("category_type", s.category_type, _table("category_type"))
    w.text("statistic_note", s.statistic_note)
    w.text("statistic_owner", s.statistic_owner)
    return w.out


def _proxy_out(p: ProxyFor, describe: Describe) -> dict[str, Any]:
    w = _Writer(describe)
    w.text("primary_id", p.primary_id)
    w.text("full_name", p.full_name)
    w.text("proxy_type", p.proxy_type)
    return w.out


def _core(user: User, w: _Writer) -> None:
    w.code("record_type", user.record_type or None, _table("record_type"))
    w.text("primary_id", user.primary_id or None)
    w.text("first_name", user.first_name)
    w.text("middle_name", user.middle_name)
    w.text("last_name", user.last_name)
    w.out["full_name"] = user.full_name
    w.text("pref_first_name", user.pref_first_name)
    w.text("pref_middle_name", user.pref_middle_name)
    w.text("pref_last_name", user.pref_last_name)
    w.text("pref_name_suffix", user.pref_name_suffix)
    w.code("user_title", user.user_title, _table("user_title"))
    w.code("job_category", user.job_category, _table("job_category"))
    w.text("job_description", user.job_description)
    w.code("gender", user.gender, _table("gender"))
    w.code("user_group", user.user_group, _table("user_group"))
    w.code("campus_code", user.campus_code, _table("campus_code"))
    w.text("web_site_url", user.web_site_url)
    w.code("cataloger_level", user.cataloger_level, _table("cataloger_level"))
    w.code("preferred_language", user.preferred_language, _table("preferred_language"))
    w.date("birth_date", user.birth_date)
    w.date("expiry_date", user.expiry_date)
    w.date("purge_date", user.purge_date)
    w.code("account_type", user.account_type or None, _table("account_type"))
    w.text("external_id", user.external_id)
    w.out["password"] = ""
    fpc = user.force_password_change
    w.out["force_password_change"] = "" if fpc is None else ("TRUE" if fpc else "FALSE")
    w.text("pin_number", user.pin_number)
    w.code("status", user.status or None, _table("status"))
    w.date("status_date", user.status_date)
    w.text("linking_id", user.linking_id)
    w.text("source_institution_code", user.source_institution_code)
    w.text("source_link_id", user.source_link_id)
    w.date("last_patron_activity_date", user.last_patron_activity_date)
    w.text("created_by", user.created_by)
    w.datetime("created_date", user.created_date)
    w.text("last_modified_by", user.last_modified_by)
    w.datetime("last_modified_date", user.last_modified_date)


def user_to_dict(
    user: User, describe: Describe, *, view: View = "full", link: str | None = None
) -> dict[str, Any]:
    """The JSON shape of ``user`` as Alma's GET returns it (see the module notes)."""
    w = _Writer(describe)
    _core(user, w)
    ci = user.contact_info
    emails = [_email_out(e, describe) for e in ci.emails]
    if view == "brief":
        w.out["contact_info"] = {"email": emails}
    else:
        w.out["contact_info"] = {
            "address": [_address_out(a, describe) for a in ci.addresses],
            "email": emails,
            "phone": [_phone_out(p, describe) for p in ci.phones],
        }
    w.out["user_identifier"] = [_identifier_out(i, describe) for i in user.identifiers]
    if view != "brief":
        w.out["user_role"] = [_role_out(r, describe) for r in user.roles]
        w.out["user_block"] = [_block_out(b, describe) for b in user.blocks]
        w.out["user_note"] = [_note_out(n, describe) for n in user.notes]
    w.out["user_statistic"] = [_statistic_out(s, describe) for s in user.statistics]
    if view != "brief":
        w.out["proxy_for_user"] = [_proxy_out(p, describe) for p in user.proxy_for]
        w.out["rs_library"] = [{"code": _code(c, None, describe)} for c in user.rs_libraries]
        w.out["library_notice"] = [
            {
                "code": _code(n.code, _table("library_notice"), describe)
                if n.code is not None
                else None,
                "value": n.value,
            }
            for n in user.library_notices
        ]
        for notice in w.out["library_notice"]:
            if notice["code"] is None:
                del notice["code"]
    w.text("link", link)
    return w.out


def brief_list_entry(user: User, describe: Describe, link: str | None) -> dict[str, Any]:
    """One entry of the ``GET /users`` list without ``expand=full`` (SPEC 2.5, sample 02):
    primary ID, names, record type, user group, status, account type, expiry and the link."""
    w = _Writer(describe)
    w.text("primary_id", user.primary_id or None)
    w.text("first_name", user.first_name)
    w.text("middle_name", user.middle_name)
    w.text("last_name", user.last_name)
    w.out["full_name"] = user.full_name
    w.code("record_type", user.record_type or None, _table("record_type"))
    w.code("user_group", user.user_group, _table("user_group"))
    w.code("account_type", user.account_type or None, _table("account_type"))
    w.code("status", user.status or None, _table("status"))
    w.date("expiry_date", user.expiry_date)
    w.out["password"] = ""
    w.text("link", link)
    return w.out


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
