"""Parsing Alma's query parameters into typed values, with Alma's 40166411 on bad input."""

from __future__ import annotations

from datetime import date

from bookplate.users.errors import InvalidParameter
from bookplate.users.ports import ALL_UNIQUE


def integer(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidParameter(name, raw) from None
    if not low <= value <= high:
        raise InvalidParameter(name, raw)
    return value


def boolean(name: str, raw: str | None, default: bool = False) -> bool:
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise InvalidParameter(name, raw)


def day(name: str, raw: str | None) -> date | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return date.fromisoformat(raw.strip().removesuffix("Z"))
    except ValueError:
        raise InvalidParameter(name, raw) from None


def choice(name: str, raw: str | None, allowed: tuple[str, ...], default: str) -> str:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value not in allowed:
        raise InvalidParameter(name, raw)
    return value


def id_type(raw: str | None) -> str:
    """``user_id_type``: all_unique (default), primary_id, linking_id or an identifier type."""
    if raw is None or raw.strip() == "":
        return ALL_UNIQUE
    value = raw.strip()
    if len(value) > 100:
        raise InvalidParameter("user_id_type", raw)
    return value


def expand_list(raw: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or raw.strip() in ("", "none"):
        return ()
    parts = tuple(p.strip() for p in raw.split(",") if p.strip())
    for part in parts:
        if part not in allowed:
            raise InvalidParameter("expand", raw)
    return parts
