"""Alma's scalar values: reading them liberally, writing them as Alma does.

``Reader`` reads the members of one JSON-shaped object, naming each by its path in error
messages (``contact_info.email[0].preferred``); ``alma.user`` reads whole records with it and
``alma.element`` reads the same values straight from XML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import SegmentType


def show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else value


def wrong(path: str, value: Any, reason: str) -> InvalidFieldValue:
    return InvalidFieldValue(path, show(value)[:200], reason)


class Reader:
    """Reads the members of one JSON object, naming each by its path for error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise wrong(path or "user", data, "expected an object")
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
        raise wrong(self.at(key), value, "expected text")

    def code(self, key: str) -> str | None:
        return code_value(self.data.get(key), self.at(key))

    def flag(self, key: str) -> bool | None:
        return read_flag(self.data.get(key), self.at(key))

    def boolean(self, key: str) -> bool:
        return bool(self.flag(key))

    def date(self, key: str) -> date | None:
        return read_date(self.data.get(key), self.at(key))

    def datetime(self, key: str) -> datetime | None:
        return read_datetime(self.data.get(key), self.at(key))

    def segment_type(self) -> SegmentType:
        key = "segment_type"
        raw = code_value(self.data.get(key), self.at(key))
        if raw is None:
            return SegmentType.INTERNAL
        for member in SegmentType:
            if raw.lower() == member.value.lower():
                return member
        raise wrong(self.at(key), raw, "expected Internal or External")

    def items(self, key: str) -> list[tuple[Any, str]]:
        """The entries of a list member with their paths; ``null`` is an empty list."""
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if isinstance(value, Mapping):  # one item sent without its list
            value = [value]
        if not isinstance(value, list):
            raise wrong(self.at(key), value, "expected a list")
        return [(item, f"{self.at(key)}[{index}]") for index, item in enumerate(value)]

    def codes(self, key: str) -> list[str]:
        """The codes of a list of codes; empty ones are dropped."""
        out: list[str] = []
        for item, path in self.items(key):
            code = code_value(item, path)
            if code is not None:
                out.append(code)
        return out

    def object(self, key: str) -> Reader:
        value = self.data.get(key)
        return Reader({} if value is None or value == "" else value, self.at(key))


def code_value(value: Any, path: str) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise wrong(path, value, "expected a code")


def read_flag(value: Any, path: str) -> bool | None:
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
    raise wrong(path, value, "expected true or false")


_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")


def read_date(value: Any, path: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise wrong(path, value, "expected a date such as 2030-08-30Z")
    text = value.strip()
    match = _DATE_RE.fullmatch(text)
    try:
        if match:
            return date.fromisoformat(match.group(1))
        return parse_datetime(text).date()
    except ValueError:
        raise wrong(path, value, "expected a date such as 2030-08-30Z") from None


def parse_datetime(text: str) -> datetime:
    match = _DATE_RE.fullmatch(text)
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


def read_datetime(value: Any, path: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise wrong(path, value, "expected a date-time such as 2024-05-30T09:30:10Z")
    try:
        return parse_datetime(value.strip())
    except ValueError:
        raise wrong(path, value, "expected a date-time such as 2024-05-30T09:30:10Z") from None



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
