"""From a source's record to a ``users.model.User``: the CSV column mapping.

(The SIS XML ``<user>`` is the API's ``<user>``, so it is read by the ``alma`` codec.)

CSV target paths (docs/sis.md):

* a core field: ``primary_id``, ``first_name``, ``last_name``, ``user_group``, ``expiry_date``,
  ``status``, ... (``SCALARS``);
* ``identifier.<TYPE>`` — an identifier of that type;
* ``email.<TYPE>``, ``phone.<TYPE>`` — an email address / phone number of that type; the first
  non-empty one is the preferred one;
* ``address.<TYPE>.<part>`` with part ``line1``..``line5``, ``city``, ``state_province``,
  ``postal_code``, ``country``, ``address_note`` — one address per TYPE;
* ``note.<TYPE>`` — a note; ``statistic`` or ``statistic.<CATEGORY_TYPE>`` — a statistic.

With ``multi_separator`` set (e.g. ``|``) one cell may hold several values of a list target.

The TYPE of a list target may come from another column of the same row: ``{HEADER}`` in place
of the type (``phone.{Phone type}``, ``identifier.{identifier_1_type}``,
``address.{addr_type}.city``) takes each row's type from that column's cell.

A header that lacks a column the profile maps (or a type column a target names) is never read
as blank cells: the run fails before any record is read (``CsvOptions.missing_columns``
``refuse``, the default), or with ``keep`` the fields of the missing columns are left as
they are stored (``CsvMapper.untouched``, applied by ``plan.merge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bookplate.sis.errors import InvalidProfile, RecordError, SourceError
from bookplate.sis.model import KEEP_MISSING, PRIMARY_ID_MATCH, CsvOptions
from bookplate.users.model import (
    Address,
    Email,
    Identifier,
    Note,
    Phone,
    SegmentType,
    Statistic,
    User,
)
from bookplate.users.shape import ADDRESS, USER, Kind

# The targets come from the record's declaration (``users.shape``, the fields marked ``sis``).
SCALARS = frozenset(f.target for f in USER.fields if f.sis and f.kind is not Kind.DATE)
DATES = frozenset(f.target for f in USER.fields if f.sis and f.kind is Kind.DATE)
ADDRESS_PARTS = frozenset(f.target for f in ADDRESS.fields if f.sis)
_EXT = SegmentType.EXTERNAL


_LISTS = ("identifier", "email", "phone", "note", "statistic")
#: The ``untouched`` key of a list target whose type comes from a missing column: every
#: external entry of that list is kept.
ANY_TYPE = "*"


def type_column(part: str) -> str | None:
    """The header named by a ``{HEADER}`` type part, else None (a fixed type)."""
    if len(part) > 2 and part.startswith("{") and part.endswith("}"):
        return part[1:-1].strip() or None
    return None


def check_target(target: str) -> tuple[str, ...]:
    """The parsed form of a target path; InvalidProfile when it is not one."""
    parts = tuple(target.strip().split("."))
    head = parts[0]
    if len(parts) == 1 and (head in SCALARS or head in DATES or head == "statistic"):
        return parts
    if len(parts) == 2 and head in _LISTS and parts[1]:
        if parts[1].startswith("{") and type_column(parts[1]) is None:
            raise InvalidProfile(f"CSV target {target!r}: {{...}} must name a column")
        return parts
    if len(parts) == 3 and head == "address" and parts[1] and parts[2] in ADDRESS_PARTS:
        if parts[1].startswith("{") and type_column(parts[1]) is None:
            raise InvalidProfile(f"CSV target {target!r}: {{...}} must name a column")
        return parts
    raise InvalidProfile(f"unknown CSV target {target!r} (see docs/sis.md)")


def untouched_key(target: tuple[str, ...]) -> tuple[str, str]:
    """What a missing column leaves untouched: ``(field, "")`` for a core field,
    ``(list, TYPE)`` for a list target (``ANY_TYPE`` when the type comes from a column)."""
    head = target[0]
    if head in SCALARS or head in DATES:
        return (head, "")
    kind = target[1] if len(target) > 1 else ""
    return (head, ANY_TYPE if type_column(kind) else kind)


class CsvMapper:
    """Maps the cells of one row (by header position) to a User."""

    def __init__(self, header: Sequence[str], options: CsvOptions, match_id_type: str) -> None:
        self.options = options
        # (cell index, target, index of the type column or None)
        self.columns: list[tuple[int, tuple[str, ...], int | None]] = []
        names = [h.strip() for h in header]
        where = {name: index for index, name in reversed(list(enumerate(names)))}
        missing: list[str] = []
        untouched: set[tuple[str, str]] = set()
        for name, mapped in options.columns.items():
            parts = check_target(mapped)
            needed = [name]
            kind = type_column(parts[1]) if len(parts) > 1 else None
            if kind is not None:
                needed.append(kind)
            absent = [n for n in needed if n not in where]
            if absent:
                missing.extend(n for n in absent if n not in missing)
                untouched.add(untouched_key(parts))
        for index, name in enumerate(names):
            if where.get(name) != index:
                continue  # a repeated header: its first column counts
            target = options.columns.get(name)
            if target is None:
                try:
                    target_parts = check_target(name)
                except InvalidProfile:
                    continue  # an unmapped column is ignored
                if any(type_column(p) for p in target_parts[1:2]):
                    continue  # a header spelled like a typed target is not a mapping
            else:
                target_parts = check_target(target)
                if untouched_key(target_parts) in untouched:
                    continue  # its type column is missing: left untouched as a whole
            kind = type_column(target_parts[1]) if len(target_parts) > 1 else None
            self.columns.append((index, target_parts, where[kind] if kind else None))
        wanted = (
            ("primary_id",)
            if match_id_type == PRIMARY_ID_MATCH
            else (
                "identifier",
                match_id_type,
            )
        )
        self.match_index = next((i for i, t, _ in self.columns if t == wanted), None)
        if not any(t == ("primary_id",) for _, t, _ in self.columns):
            raise SourceError(_no_column("primary_id", options), line=1)
        if self.match_index is None:
            raise SourceError(_no_column(".".join(wanted), options) + " (the match ID)", line=1)
        if missing and options.missing_columns != KEEP_MISSING:
            raise SourceError(
                "the CSV header lacks the column(s) "
                + ", ".join(repr(n) for n in missing)
                + " that the profile maps; nothing was read (a column the file leaves out is "
                "never taken as blank: send the column, change the mapping, or set the "
                "profile's CSV missing_columns to keep to leave those fields untouched)",
                line=1,
            )
        #: Fields (``untouched_key``) whose columns the file lacks: left as stored.
        self.untouched: frozenset[tuple[str, str]] = frozenset(untouched)

    def _values(self, cell: str) -> list[str]:
        sep = self.options.multi_separator
        parts = cell.split(sep) if sep else [cell]
        return [p.strip() for p in parts if p.strip()]

    def match_id(self, row: Sequence[str]) -> str | None:
        if self.match_index is None or self.match_index >= len(row):
            return None
        values = self._values(row[self.match_index])
        return values[0] if values else None

    def _date(self, value: str, column: str, line: int | None) -> date:
        try:
            return datetime.strptime(value, self.options.date_format).date()
        except ValueError:
            raise RecordError(
                f"line {line}: {column} {value[:40]!r} is not a date ({self.options.date_format})"
            ) from None

    def _typed(
        self,
        row: Sequence[str],
        cell: str,
        target: tuple[str, ...],
        type_at: int | None,
        line: int | None,
    ) -> list[tuple[str, str]]:
        """(value, type) pairs of one list cell; the type from the target, or from the cell of
        its type column (one type for all values, or one per value)."""
        values = self._values(cell)
        if type_at is None or not values:
            return [(v, target[1] if len(target) > 1 else "") for v in values]
        kinds = self._values(row[type_at] if type_at < len(row) else "")
        column = type_column(target[1]) or ""
        if not kinds:
            raise RecordError(
                f"line {line}: {target[0]} {values[0][:40]!r} has no type ({column} is blank)"
            )
        if len(kinds) == 1:
            return [(v, kinds[0]) for v in values]
        if len(kinds) != len(values):
            raise RecordError(
                f"line {line}: {len(values)} {target[0]} values but {len(kinds)} types in {column}"
            )
        return list(zip(values, kinds, strict=True))

    def user(self, row: Sequence[str], line: int | None) -> User:
        user = User(primary_id="")
        addresses: dict[str, Address] = {}
        for index, target, type_at in self.columns:
            cell = row[index] if index < len(row) else ""
            head = target[0]
            if head in SCALARS:
                setattr(user, head, cell.strip() or None)
                continue
            if head in DATES:
                user.__setattr__(
                    head, self._date(cell.strip(), head, line) if cell.strip() else None
                )
                continue
            for value, kind in self._typed(row, cell, target, type_at, line):
                if head == "identifier":
                    user.identifiers.append(
                        Identifier(id_type=kind, value=value, segment_type=_EXT)
                    )
                elif head == "email":
                    user.contact_info.emails.append(
                        Email(email_address=value, email_types=[kind], segment_type=_EXT)
                    )
                elif head == "phone":
                    user.contact_info.phones.append(
                        Phone(phone_number=value, phone_types=[kind], segment_type=_EXT)
                    )
                elif head == "note":
                    user.notes.append(Note(note_type=kind, note_text=value, segment_type=_EXT))
                elif head == "statistic":
                    user.statistics.append(
                        Statistic(
                            statistic_category=value,
                            category_type=kind or None,
                            segment_type=_EXT,
                        )
                    )
                elif head == "address":
                    address = addresses.get(kind)
                    if address is None:
                        address = Address(address_types=[kind], segment_type=_EXT)
                        addresses[kind] = address
                    setattr(address, target[2], value)
        user.primary_id = user.primary_id or ""
        user.contact_info.addresses = list(addresses.values())
        for items in (
            user.contact_info.emails,
            user.contact_info.phones,
            user.contact_info.addresses,
        ):
            if items:
                items[0].preferred = True
        return user


def _no_column(target: str, options: CsvOptions) -> str:
    mapped = [h for h, t in options.columns.items() if t.strip() == target]
    if mapped:
        names = ", ".join(repr(h) for h in mapped)
        return f"the CSV header has no column {names}, which the profile maps to {target}"
    return f"the CSV header has no {target} column (and the profile maps no column to it)"
