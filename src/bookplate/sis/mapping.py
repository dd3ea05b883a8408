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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bookplate.sis.errors import InvalidProfile, RecordError
from bookplate.sis.model import PRIMARY_ID_MATCH, CsvOptions
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


def check_target(target: str) -> tuple[str, ...]:
    """The parsed form of a target path; InvalidProfile when it is not one."""
    parts = tuple(target.strip().split("."))
    head = parts[0]
    if len(parts) == 1 and (head in SCALARS or head in DATES or head == "statistic"):
        return parts
    if (
        len(parts) == 2
        and head in ("identifier", "email", "phone", "note", "statistic")
        and parts[1]
    ):
        return parts
    if len(parts) == 3 and head == "address" and parts[1] and parts[2] in ADDRESS_PARTS:
        return parts
    raise InvalidProfile(f"unknown CSV target {target!r} (see docs/sis.md)")


class CsvMapper:
    """Maps the cells of one row (by header position) to a User."""

    def __init__(self, header: Sequence[str], options: CsvOptions, match_id_type: str) -> None:
        self.options = options
        self.columns: list[tuple[int, tuple[str, ...]]] = []
        names = [h.strip() for h in header]
        for index, name in enumerate(names):
            target = options.columns.get(name)
            if target is None:
                try:
                    target_parts = check_target(name)
                except InvalidProfile:
                    continue  # an unmapped column is ignored
            else:
                target_parts = check_target(target)
            self.columns.append((index, target_parts))
        wanted = (
            ("primary_id",)
            if match_id_type == PRIMARY_ID_MATCH
            else (
                "identifier",
                match_id_type,
            )
        )
        self.match_index = next((i for i, t in self.columns if t == wanted), None)
        if not any(t == ("primary_id",) for _, t in self.columns):
            raise InvalidProfile("the CSV mapping has no primary_id column")

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

    def user(self, row: Sequence[str], line: int | None) -> User:
        user = User(primary_id="")
        addresses: dict[str, Address] = {}
        for index, target in self.columns:
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
            for value in self._values(cell):
                if head == "identifier":
                    user.identifiers.append(
                        Identifier(id_type=target[1], value=value, segment_type=_EXT)
                    )
                elif head == "email":
                    user.contact_info.emails.append(
                        Email(email_address=value, email_types=[target[1]], segment_type=_EXT)
                    )
                elif head == "phone":
                    user.contact_info.phones.append(
                        Phone(phone_number=value, phone_types=[target[1]], segment_type=_EXT)
                    )
                elif head == "note":
                    user.notes.append(Note(note_type=target[1], note_text=value, segment_type=_EXT))
                elif head == "statistic":
                    user.statistics.append(
                        Statistic(
                            statistic_category=value,
                            category_type=target[1] if len(target) > 1 else None,
                            segment_type=_EXT,
                        )
                    )
                elif head == "address":
                    address = addresses.get(target[1])
                    if address is None:
                        address = Address(address_types=[target[1]], segment_type=_EXT)
                        addresses[target[1]] = address
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
