"""Rules a user record must satisfy before it is stored, by any path (API, SIS, web).

Pure: the code tables come in as a :class:`CodeBook`. The first broken rule raises its typed
error (``users.errors``); nothing is stored on failure.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from bookplate.users.errors import (
    ExternalIdMustBeEmpty,
    ExternalIdRequired,
    IllegalAccountType,
    IllegalUserGroup,
    InvalidCode,
    InvalidFieldValue,
    MandatoryFieldMissing,
    NotSupportedForRecordType,
    RepeatedIdentifier,
    TooManyValues,
    UnsupportedAccountType,
)
from bookplate.users.model import AccountType, RecordType, SegmentType, User, normalise_id
from bookplate.users.password_rules import check_password
from bookplate.users.shape import DEFAULT_MAX, FIELD_TABLES, MAX_LENGTHS, RECORDS

# Lengths from the XSD's string types (SPEC section 1.3) are declared in ``users.shape``
# (``MAX_LENGTHS`` by field name); a text field that declares none gets DEFAULT_MAX.

# How many entries each list of a record may hold (docs/alma-compatibility.md, "Record
# sizes"). Alma documents no such caps; these are far above what a person's record needs and
# keep a record that was accepted small enough to be read back and PUT again under the
# 1 MiB body limit, whatever path (API, SIS, web) sends it.
MAX_LIST_ITEMS: dict[str, int] = {
    "user_identifier": 50,
    "address": 20,
    "email": 20,
    "phone": 20,
    "user_note": 200,
    "user_block": 100,
    "user_statistic": 100,
    "user_role": 500,
    "proxy_for_user": 100,
    "library_notice": 100,
    "rs_library": 100,
}
# Per segment: address_type, email_type, phone_type; per role: parameter.
MAX_SEGMENT_TYPES = 20
MAX_ROLE_PARAMETERS = 50
# All the text of one record, in UTF-8 bytes (its structure and code descriptions come on top).
MAX_RECORD_TEXT_BYTES = 256 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class CodeBook:
    """One institution's code tables, as needed for validation and display."""

    tables: Mapping[str, Mapping[str, str]]  # table -> code -> description (enabled rows)
    group_record_types: Mapping[str, frozenset[str]]  # record type -> enabled user groups
    institution: str = ""  # named in the error of a missing code

    def has(self, table: str, code: str) -> bool:
        return code in self.tables.get(table, {})

    def describe(self, table: str, code: str) -> str | None:
        return self.tables.get(table, {}).get(code)


def _strings(obj: object, path: str) -> Iterator[tuple[str, str, str]]:
    """(dotted path, leaf field name, value) for every string inside a record."""
    if isinstance(obj, str):
        yield path, path.rsplit(".", 1)[-1].split("[", maxsplit=1)[0], obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _strings(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _strings(item, f"{path}[{i}]")


_LIMITED_FIELDS: dict[type, tuple[tuple[str, int], ...]] = {}


def _limited_fields(kind: type) -> tuple[tuple[str, int], ...]:
    """(field name, length limit) of a dataclass type; () for any other type."""
    found = _LIMITED_FIELDS.get(kind)
    if found is None:
        fields = dataclasses.fields(kind) if dataclasses.is_dataclass(kind) else ()
        record = RECORDS.get(kind)
        limits = record.limits() if record is not None else {}
        found = tuple((f.name, limits.get(f.name, DEFAULT_MAX)) for f in fields)
        _LIMITED_FIELDS[kind] = found
    return found


def _gather(obj: object, limit: int, out: list[str]) -> bool:
    """Add every string inside ``obj`` (walked as ``_strings`` walks it; ``limit`` is the
    length limit of the field holding it) to ``out``; False as soon as one is too long."""
    if isinstance(obj, str):
        if len(obj) > limit:
            return False
        out.append(obj)
        return True
    if isinstance(obj, list):
        for item in obj:  # noqa: SIM110 - a loop, not all(...): no generator for every list
            if not _gather(item, limit, out):
                return False
        return True
    gatherer = _GATHERERS.get(obj.__class__)
    if gatherer is None:
        gatherer = _GATHERERS[obj.__class__] = _compile_gatherer(obj.__class__)
    return gatherer(obj, out)


_Gatherer = Callable[[object, list[str]], bool]
_GATHERERS: dict[type, _Gatherer] = {}
_NOT_CHECKED = frozenset({"manual_fields", "institution"})  # of a User: not checked at all


def _compile_gatherer(kind: type, skip: frozenset[str] = frozenset()) -> _Gatherer:
    """``_gather`` of a ``kind`` instance (fields in ``skip`` left out), as straight-line
    code with one test per field, the way ``dataclasses`` writes ``__init__``: every user of
    a sync passes here, and most of its fifty-odd fields are unset. Field names are Python
    identifiers (dataclass fields) and limits are integers; nothing else goes into the code.
    Any type other than a dataclass has no fields, so nothing to gather."""
    lines = ["def gather(obj, out):"]
    for name, limit in _limited_fields(kind):
        if name in skip:
            continue
        lines += [
            f"    v = obj.{name}",
            "    if v is not None:",
            "        if v.__class__ is str:",
            f"            if len(v) > {int(limit)}:",
            "                return False",
            "            out.append(v)",
            f"        elif not _gather(v, {int(limit)}, out):",
            "            return False",
        ]
    lines.append("    return True")
    namespace: dict[str, object] = {"_gather": _gather}
    exec("\n".join(lines), namespace)  # noqa: S102 - code built above from field names only
    # [assignment] below: exec's namespace holds objects; 'gather' is the function built above
    gatherer: _Gatherer = namespace["gather"]  # type: ignore[assignment]
    return gatherer


@lru_cache(maxsize=1)
def _user_gatherer() -> _Gatherer:
    return _compile_gatherer(User, _NOT_CHECKED)


def check_counts(user: User) -> None:
    """List sizes first (MAX_LIST_ITEMS), before any check walks the lists."""
    contact = user.contact_info
    for name, items in (
        ("user_identifier", user.identifiers),
        ("address", contact.addresses),
        ("email", contact.emails),
        ("phone", contact.phones),
        ("user_note", user.notes),
        ("user_block", user.blocks),
        ("user_statistic", user.statistics),
        ("user_role", user.roles),
        ("proxy_for_user", user.proxy_for),
        ("library_notice", user.library_notices),
        ("rs_library", user.rs_libraries),
    ):
        if len(items) > MAX_LIST_ITEMS[name]:
            raise TooManyValues(name, len(items), MAX_LIST_ITEMS[name])
    for field_name, segments in (
        ("address_type", contact.addresses),
        ("email_type", contact.emails),
        ("phone_type", contact.phones),
    ):
        for segment in segments:
            types: list[str] = getattr(segment, f"{field_name}s")
            if len(types) > MAX_SEGMENT_TYPES:
                raise TooManyValues(field_name, len(types), MAX_SEGMENT_TYPES)
    for role in user.roles:
        if len(role.parameters) > MAX_ROLE_PARAMETERS:
            raise TooManyValues("user_role.parameter", len(role.parameters), MAX_ROLE_PARAMETERS)


def check_text(user: User) -> None:
    """Lengths and control characters of every string field, and the record's total text."""
    strings: list[str] = []
    if _user_gatherer()(user, strings):
        text = "".join(strings)
        # A character is at most 4 bytes in UTF-8: most records need no encoding to know.
        if len(text) * 4 > MAX_RECORD_TEXT_BYTES:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_RECORD_TEXT_BYTES:
                raise TooManyValues("user", size, MAX_RECORD_TEXT_BYTES, "bytes of text")
        if _CONTROL.search(text) is None:
            return
    for path, name, value in _strings(user, ""):
        if path.startswith("manual_fields") or path == "institution":
            continue
        limit = MAX_LENGTHS.get(name, DEFAULT_MAX)
        if len(value) > limit:
            raise InvalidFieldValue(path, value, f"longer than {limit} characters")
        if _CONTROL.search(value):
            raise InvalidFieldValue(
                path, value.encode("unicode_escape").decode(), "control characters are not allowed"
            )


def has_control(value: str) -> bool:
    """True when ``value`` holds a character no text field may hold (NUL and the other C0
    controls but tab, line feed and carriage return; DEL)."""
    return _CONTROL.search(value) is not None


def check_plain_text(field: str, value: str, limit: int = DEFAULT_MAX) -> None:
    """The Users API's rule for one text value of any other input (configuration, profiles,
    file names): at most ``limit`` characters, no control characters (InvalidFieldValue)."""
    if len(value) > limit:
        raise InvalidFieldValue(field, value[:80], f"longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidFieldValue(
            field, value.encode("unicode_escape").decode(), "control characters are not allowed"
        )


def _code(book: CodeBook, kind: str, table_key: str, code: str | None) -> None:
    if code is not None and not book.has(FIELD_TABLES[table_key], code):
        table = FIELD_TABLES[table_key]
        raise InvalidCode(kind, code, table, book.institution or None)


def check_account(user: User) -> None:
    account = user.account_type.upper().replace(" ", "_")
    if account not in (AccountType.INTERNAL, AccountType.EXTERNAL):
        if "INTERNAL" in account and "EXTERNAL" in account:
            raise UnsupportedAccountType()
        raise IllegalAccountType(user.account_type)
    if account == AccountType.INTERNAL and user.external_id:
        raise ExternalIdMustBeEmpty()
    if account == AccountType.EXTERNAL and not user.external_id:
        raise ExternalIdRequired()


def check_contact(user: User, has_password: bool) -> None:
    """A CONTACT user holds contact information and notes only (SPEC sections 1.5, 11.10)."""
    if user.record_type != RecordType.CONTACT:
        return
    contact = RecordType.CONTACT.value
    if user.identifiers:
        raise NotSupportedForRecordType("identifier", user.identifiers[0].id_type or "", contact)
    if user.roles:
        raise NotSupportedForRecordType("role", user.roles[0].role_type or "", contact)
    if has_password:
        raise NotSupportedForRecordType("password", "login", contact)
    if user.blocks:
        raise NotSupportedForRecordType("block", user.blocks[0].block_type or "", contact)
    if user.statistics:
        raise NotSupportedForRecordType(
            "statistic", user.statistics[0].statistic_category or "", contact
        )
    if user.proxy_for:
        raise NotSupportedForRecordType("proxy", "proxy_for_user", contact)


def check_codes(user: User, book: CodeBook) -> None:  # noqa: PLR0912 - one branch per code-table field of the record
    _code(book, "record", "record_type", user.record_type)
    _code(book, "status", "status", user.status)
    if user.user_group is not None:
        _code(book, "user group", "user_group", user.user_group)
        allowed = book.group_record_types.get(user.record_type, frozenset())
        if user.user_group not in allowed:
            if user.record_type == RecordType.CONTACT:
                raise NotSupportedForRecordType("user group", user.user_group, user.record_type)
            raise IllegalUserGroup(user.user_group, user.record_type)
    for field_name, kind in (
        ("user_title", "user title"),
        ("job_category", "job category"),
        ("gender", "gender"),
        ("campus_code", "campus"),
        ("cataloger_level", "cataloger level"),
        ("preferred_language", "preferred language"),
    ):
        _code(book, kind, field_name, getattr(user, field_name))
    for address in user.contact_info.addresses:
        _code(book, "country", "country", address.country)
        for t in address.address_types:
            _code(book, "address", "address_type", t)
    for email in user.contact_info.emails:
        if not email.email_address:
            raise MandatoryFieldMissing("email_address")
        if not _EMAIL.match(email.email_address):
            raise InvalidFieldValue("email_address", email.email_address)
        for t in email.email_types:
            _code(book, "email", "email_type", t)
    for phone in user.contact_info.phones:
        if not phone.phone_number:
            raise MandatoryFieldMissing("phone_number")
        for t in phone.phone_types:
            _code(book, "phone", "phone_type", t)
    for role in user.roles:
        # Role types, scopes and parameters are the roles area's to check (roles.validation).
        _code(book, "role status", "user_role.status", role.status)
    for note in user.notes:
        _code(book, "note", "note_type", note.note_type)
    for block in user.blocks:
        if not block.block_type:
            raise MandatoryFieldMissing("user_block.block_type")
        _code(book, "block", "block_type", block.block_type)
        _code(book, "block description", "block_description", block.block_description)
    for stat in user.statistics:
        _code(book, "statistic category", "statistic_category", stat.statistic_category)
        _code(book, "statistic category type", "category_type", stat.category_type)
    for notice in user.library_notices:
        _code(book, "library notice", "library_notice.code", notice.code)


def check_identifiers(user: User, book: CodeBook) -> None:
    seen: set[str] = set()
    for ident in user.identifiers:
        if not ident.id_type:
            raise MandatoryFieldMissing("user_identifier.id_type")
        if not ident.value or not ident.value.strip():
            raise MandatoryFieldMissing("user_identifier.value")
        _code(book, "identifier", "id_type", ident.id_type)
        if ident.status is not None and ident.status not in ("ACTIVE", "INACTIVE"):
            raise InvalidFieldValue("user_identifier.status", ident.status)
        norm = normalise_id(ident.value)
        if norm in seen:
            raise RepeatedIdentifier(ident.value)
        seen.add(norm)


def validate(user: User, book: CodeBook, password: str | None = None) -> None:
    """Every rule; raises the first broken one."""
    if not user.primary_id or not user.primary_id.strip():
        raise MandatoryFieldMissing("primary_id")
    if not user.record_type:
        raise MandatoryFieldMissing("record_type")
    check_counts(user)
    check_text(user)
    check_account(user)
    check_contact(user, bool(password))
    check_codes(user, book)
    check_identifiers(user, book)
    if password:
        check_password(password, user.primary_id)


def apply_defaults(user: User) -> None:
    """Defaults for members a caller may leave out: account INTERNAL, status ACTIVE."""
    user.account_type = (user.account_type or AccountType.INTERNAL.value).upper()
    user.status = (user.status or "ACTIVE").upper()
    if user.record_type:
        user.record_type = user.record_type.upper()


def force_internal_segments(user: User) -> None:
    """Every segment of an internal user is internal (SPEC section 1.1)."""
    if user.account_type != AccountType.INTERNAL:
        return
    segments: list[object] = [
        *user.contact_info.addresses,
        *user.contact_info.emails,
        *user.contact_info.phones,
        *user.identifiers,
        *user.notes,
        *user.blocks,
        *user.statistics,
    ]
    for segment in segments:
        # [attr-defined] below: each segment class has segment_type; the list is typed object
        segment.segment_type = SegmentType.INTERNAL  # type: ignore[attr-defined]
