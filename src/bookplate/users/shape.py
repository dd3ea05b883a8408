"""The user record's fields, declared once: every other description of the record is derived.

Each :class:`Record` lists its members in the order Alma writes them (the order of a GET's JSON
and XML). A :class:`Field` says what the member is (``kind``), where it lives in
``users.model`` (``attr``; None for members the model does not hold), its code table, its
length limit, whether XML carries it as an attribute, and what the other areas do with it:
protected from the SIS for external users (``protected``), a CSV target of the SIS
(``sis``), fillable from a sign-in attribute (``login``), found by ``q`` (``search``), left in
``view=brief`` (``brief``).

Derived from here: the Alma codec (``alma.tree``'s XML table, ``alma.user``'s reader and
writer, ``alma.element``'s fast reader, ``alma.schema``'s OpenAPI body), ``sis.mapping``'s
targets, ``auth.matching``'s mappable fields, ``users.manual``'s protected fields,
``users.validation``'s limits and code tables, ``users.queries``' search fields and terms.
Adding a field: its dataclass member in ``users.model`` and its line here
(docs/architecture.md, "Adding a field to the user record").

Pure data: only ``alma/`` turns the wire facts (names, attributes, wrappers) into XML and JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

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
    Statistic,
    User,
)

DEFAULT_MAX = 4000  # the limit of a text field that declares none


class Kind(Enum):
    TEXT = "text"  # a string
    CODE = "code"  # a code-table value: {"value", "desc"} in JSON, text and desc="" in XML
    LOOSE_CODE = "loose code"  # read as text or as a code, written as text
    DATE = "date"  # 2030-08-30Z
    DATETIME = "datetime"  # 2024-05-30T09:30:10Z
    BOOLEAN = "boolean"  # true / false, never unset
    FLAG = "flag"  # true / false / unset, written "TRUE" / "FALSE" / ""
    SEGMENT = "segment"  # segment_type: Internal / External
    CODES = "codes"  # a list of codes (address_type)
    RECORDS = "records"  # a list of nested records (user_identifier)
    RECORD = "record"  # one nested record (contact_info)
    WRITE_ONLY = "write-only"  # write-only (password): read into UserInput, written as ""
    LINK = "link"  # the resource's URL, given by the caller when writing


class SearchAs(Enum):
    WORDS = "words"  # every word, folded
    WHOLE = "whole"  # the whole value, normalised as an ID
    CODE = "code"  # the whole code, folded
    DIGITS = "digits"  # its digits
    DATE = "date"  # ISO date


@dataclass(frozen=True, slots=True)
class Search:
    """How a field is found by ``q``: under the condition name ``name``."""

    name: str
    how: SearchAs
    general: bool = True  # part of ``general_info``


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the JSON member and XML element (or attribute) name
    kind: Kind = Kind.TEXT
    attr: str | None = ""  # the model attribute; "" = the name, None = not in the model
    table: str | None = None
    max_length: int = DEFAULT_MAX
    xml_attribute: bool = False
    wrapper: str | None = None  # lists: the XML element holding the items
    record: Record | None = None  # RECORDS and RECORD: the nested record
    required: bool = False  # "" when absent (not None), left out when ""
    mandatory: bool = False  # a request must carry it (MandatoryFieldMissing)
    input: bool = True  # False: output only, ignored when read
    always: bool = False  # written even when empty
    brief: bool = True  # kept in view=brief
    protected: bool = False
    sis: bool = False
    login: bool = False
    search: tuple[Search, ...] = ()

    @property
    def target(self) -> str | None:
        return self.name if self.attr == "" else self.attr


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    make: type[Any] | None  # the model class; None: the item is its one code
    fields: tuple[Field, ...]
    value: str | None = None  # make=None: the member holding the item's code

    def get(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def limits(self) -> dict[str, int]:
        """Model attribute -> length limit, for every text-holding field."""
        return {
            f.target: f.max_length
            for f in self.fields
            if f.target is not None and f.kind not in _NOT_TEXT
        }


_NOT_TEXT = frozenset(
    {Kind.DATE, Kind.DATETIME, Kind.BOOLEAN, Kind.FLAG, Kind.SEGMENT, Kind.RECORDS, Kind.RECORD}
)
K = Kind
_SEG = Field("segment_type", K.SEGMENT, xml_attribute=True)
_PREF = Field("preferred", K.BOOLEAN, xml_attribute=True)


def _text(name: str, limit: int = DEFAULT_MAX, **kw: Any) -> Field:
    return Field(name, K.TEXT, max_length=limit, **kw)


def _code(name: str, table: str | None = None, **kw: Any) -> Field:
    return Field(name, K.CODE, table=table, **kw)


def _list(name: str, record: Record, attr: str, wrapper: str = "", **kw: Any) -> Field:
    return Field(name, K.RECORDS, attr, wrapper=wrapper or name + "s", record=record, **kw)


def _codes(name: str, table: str) -> Field:
    return Field(name, K.CODES, name + "s", table=table, wrapper=name + "s")


def _words(name: str, **kw: Any) -> tuple[Search, ...]:
    return (Search(name, SearchAs.WORDS, **kw),)


def _by(how: SearchAs, name: str, general: bool = True) -> tuple[Search, ...]:
    return (Search(name, how, general),)


_PART: dict[str, Any] = {"sis": True}
ADDRESS = Record("address", Address, (
    _PREF, _SEG,
    *(_text(n, **_PART) for n in ("line1", "line2", "line3", "line4", "line5", "city")),
    _text("state_province", **_PART), _text("postal_code", **_PART),
    _code("country", "CountryCodes", **_PART), _text("address_note", 1000, **_PART),
    Field("start_date", K.DATE), Field("end_date", K.DATE),
    _codes("address_type", "UserAddressTypes"),
))
EMAIL = Record("email", Email, (
    _PREF, _SEG,
    _text("email_address", 255, search=_by(SearchAs.WHOLE, "email", general=False)),
    _text("description"),
    _codes("email_type", "UserEmailTypes"),
))
PHONE = Record("phone", Phone, (
    _PREF, Field("preferred_sms", K.BOOLEAN, xml_attribute=True), _SEG,
    _text("phone_number", 255, search=_by(SearchAs.DIGITS, "phone_number")),
    _codes("phone_type", "UserPhoneTypes"),
))
CONTACT_INFO = Record("contact_info", ContactInfo, (
    _list("address", ADDRESS, "addresses", wrapper="addresses", brief=False),
    _list("email", EMAIL, "emails"),
    _list("phone", PHONE, "phones", brief=False),
))
IDENTIFIER = Record("user_identifier", Identifier, (
    _SEG,
    _code("id_type", "UserIdentifierTypes", search=_by(SearchAs.CODE, "id_type")),
    _text("value", 255, search=_by(SearchAs.WHOLE, "identifiers", general=False)),
    _text("note"),
    Field("status", K.LOOSE_CODE),
))
ROLE_PARAMETER = Record("parameter", RoleParameter, (
    _code("type"), _code("scope"), _code("value", max_length=255),
))
ROLE = Record("user_role", Role, (
    _code("status", "UserRoleStatus"), _code("scope"),
    _code("role_type", "HFrUserRoles.roleType"), Field("expiry_date", K.DATE),
    _list("parameter", ROLE_PARAMETER, "parameters"),
))
BLOCK = Record("user_block", Block, (
    _SEG,
    _code("block_type", "UserBlockTypes", search=_by(SearchAs.CODE, "block_type")),
    _code("block_description", "UserBlockDescription"),
    Field("block_status", K.LOOSE_CODE), _text("block_note", 1000), _text("created_by"),
    Field("created_date", K.DATETIME), Field("expiry_date", K.DATETIME), _text("block_owner"),
))
NOTE = Record("user_note", Note, (
    _SEG,
    _code("note_type", "NoteTypes", search=_by(SearchAs.CODE, "note_type")),
    _text("note_text", 2000, search=_words("note_text")),
    Field("user_viewable", K.BOOLEAN), Field("popup_note", K.BOOLEAN),
    _text("created_by"), Field("created_date", K.DATETIME), _text("note_owner"),
))
STATISTIC = Record("user_statistic", Statistic, (
    _SEG,
    _code("statistic_category", "UserStatCategories",
          search=_by(SearchAs.CODE, "statistic_category")),
    _code("category_type", "UserStatisticalTypes"),
    _text("statistic_note", 1000), _text("statistic_owner"),
))
PROXY_FOR = Record("proxy_for_user", ProxyFor, (
    _text("primary_id", 255), _text("full_name"), Field("proxy_type", K.LOOSE_CODE),
    Field("link", K.LINK, None, xml_attribute=True),
))
RS_LIBRARY = Record("rs_library", None, (_code("code"),), value="code")
LIBRARY_NOTICE = Record("library_notice", LibraryNotice, (
    _code("code", "LibraryNoticesOptInDisplay"), Field("value", K.BOOLEAN),
))

_SIS: dict[str, Any] = {"sis": True}
_PERSON: dict[str, Any] = {"sis": True, "login": True}  # a CSV target, fillable at sign-in
_KEPT: dict[str, Any] = {**_PERSON, "protected": True}  # ... and protected from the SIS
_OUT: dict[str, Any] = {"input": False}
USER = Record("user", User, (
    _code("record_type", "AddNewUserOptions", required=True, mandatory=True),
    _text("primary_id", 255, required=True, mandatory=True, **_SIS,
          search=_by(SearchAs.WHOLE, "primary_id")),
    _text("first_name", 255, **_PERSON, search=_words("first_name")),
    _text("middle_name", 255, **_PERSON, search=_words("middle_name")),
    _text("last_name", 255, **_PERSON, search=_words("last_name")),
    _text("full_name", input=False, always=True),  # User.full_name, worked out
    _text("pref_first_name", 255, **_KEPT, search=_words("first_name")),
    _text("pref_middle_name", 255, **_KEPT, search=_words("middle_name")),
    _text("pref_last_name", 255, **_KEPT, search=_words("last_name")),
    _text("pref_name_suffix", 255, **_SIS),
    _code("user_title", "UserTitles", **_KEPT),
    _code("job_category", "JobTitles", **_KEPT, search=_by(SearchAs.CODE, "job_category")),
    _text("job_description", 1000, **_PERSON),
    _code("gender", "Genders", **_PERSON),
    _code("user_group", "UserGroups", **_KEPT, search=_by(SearchAs.CODE, "user_group")),
    _code("campus_code", "Campuses", **_KEPT, search=_by(SearchAs.CODE, "campus_code")),
    _text("web_site_url", **_PERSON),
    _code("cataloger_level", "CatalogerLevel", protected=True, **_SIS),
    _code("preferred_language", "UserPreferredLanguage", **_KEPT),
    Field("birth_date", K.DATE, **_SIS, search=_by(SearchAs.DATE, "birth_date", general=False)),
    Field("expiry_date", K.DATE, **_SIS),
    Field("purge_date", K.DATE, **_SIS),
    _code("account_type", "UserAccountTypes", required=True),
    _text("external_id", 255),
    Field("password", K.WRITE_ONLY, None),
    Field("force_password_change", K.FLAG),
    _text("pin_number", 255, protected=True, **_SIS),
    _code("status", "UserStatus", required=True, **_SIS),
    Field("status_date", K.DATE),
    _text("linking_id", 255, login=True),  # limits of the columns of ``users`` they fill
    _text("source_institution_code", 64),
    _text("source_link_id", 255),
    Field("last_patron_activity_date", K.DATE, **_OUT),
    _text("created_by", **_OUT),
    Field("created_date", K.DATETIME, **_OUT),
    _text("last_modified_by", **_OUT),
    Field("last_modified_date", K.DATETIME, **_OUT),
    Field("contact_info", K.RECORD, record=CONTACT_INFO),
    _list("user_identifier", IDENTIFIER, "identifiers"),
    _list("user_role", ROLE, "roles", brief=False),
    _list("user_block", BLOCK, "blocks", brief=False),
    _list("user_note", NOTE, "notes", brief=False),
    _list("user_statistic", STATISTIC, "statistics"),
    _list("proxy_for_user", PROXY_FOR, "proxy_for", brief=False),
    _list("rs_library", RS_LIBRARY, "rs_libraries", wrapper="rs_libraries", brief=False,
          protected=True),
    _list("library_notice", LIBRARY_NOTICE, "library_notices", brief=False, protected=True),
    Field("is_researcher", K.BOOLEAN, None),  # Esploro's flag: known to XML, not kept
    Field("link", K.LINK, None, xml_attribute=True),
))


# --------------------------------------------------------------------------- derived lists


def walk(record: Record = USER) -> Iterator[tuple[Record, Field]]:
    """Every (record, field) of ``record`` and the records nested in it, depth first."""
    for f in record.fields:
        yield record, f
        if f.record is not None:
            yield from walk(f.record)


def user_fields(flag: str) -> tuple[str, ...]:
    """The model attributes of the user's own fields (not nested) that have ``flag`` set."""
    return tuple(f.target for f in USER.fields if getattr(f, flag) and f.target is not None)


#: Fields of an external user that staff edits protect against the SIS and against PUT
#: (SPEC section 3, "Exception 2").
PROTECTED_FIELDS: tuple[str, ...] = user_fields("protected")
#: The names accepted in ``override=``: the protected fields by model and by wire name.
OVERRIDE_NAMES: dict[str, str] = {
    name: f.target
    for f in USER.fields
    if f.protected and f.target is not None
    for name in (f.target, f.name)
}


def _table_keys() -> dict[str, str]:
    """Field name -> code table; a nested code's name that another code shares is qualified
    by its record (``user_role.status``, ``library_notice.code``)."""
    codes = [(r, f) for r, f in walk() if f.kind in (Kind.CODE, Kind.CODES)]
    names = [f.name for _, f in codes]
    out: dict[str, str] = {}
    for r, f in codes:
        if f.table is not None:
            shared = names.count(f.name) > 1 and r is not USER
            out[f"{r.name}.{f.name}" if shared else f.name] = f.table
    return out


#: Which field is checked against which code table (keys: see ``_table_keys``).
FIELD_TABLES: dict[str, str] = _table_keys()


def _limits_by_name() -> dict[str, int]:
    out: dict[str, int] = {}
    for record, _ in walk():
        for name, limit in record.limits().items():
            if limit != DEFAULT_MAX:
                out[name] = limit
    return out


#: Length limits by field name (a name has one limit wherever it occurs; tested).
MAX_LENGTHS: dict[str, int] = _limits_by_name()
#: Model class -> its record, for the classes a record makes.
RECORDS: dict[Any, Record] = {r.make: r for r, _ in walk() if r.make is not None} | {User: USER}
