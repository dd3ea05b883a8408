"""The checks of a partner's settings (the linked account rule a host keeps for a home, and
how it reaches a home on another deployment) and of the network search password."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from typing import Any

from bookplate.network.errors import InvalidPartner
from bookplate.network.model import PARTNER_FIELDS, ExpiryMode, Partner, PurgeMode


def password_hash(password: str) -> str:
    """How a network search password is kept (it is compared, never shown)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def check_text(field: str, value: object, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidPartner(field, f"text of 1 to {limit} characters expected")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidPartner(field, "control characters are not allowed")
    return value.strip()


def _to_bool(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise InvalidPartner(field, "true or false expected")


def _to_date(field: str, value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidPartner(field, "a date yyyy-mm-dd expected") from None


def _to_number(field: str, value: object, low: float, high: float, *, integer: bool) -> float:
    try:
        number = int(str(value)) if integer else float(str(value))
    except ValueError:
        raise InvalidPartner(field, "a number expected") from None
    if not low <= number <= high:
        raise InvalidPartner(field, f"between {low:g} and {high:g} expected")
    return number


def apply_partner_changes(  # noqa: PLR0912 - one branch per partner setting, each checked
    partner: Partner, changes: dict[str, Any]
) -> Partner:
    """``partner`` with the named settings changed, each checked (InvalidPartner)."""
    values: dict[str, Any] = {}
    for name, raw in changes.items():
        if name not in PARTNER_FIELDS:
            raise InvalidPartner(name, f"unknown setting; known: {', '.join(PARTNER_FIELDS)}")
        if name in ("name",):
            values[name] = "" if raw in (None, "") else check_text(name, raw)
        elif name in ("user_group",):
            values[name] = None if raw in (None, "") else check_text(name, raw)
        elif name in ("api_key", "search_password"):
            values[name] = None if raw in (None, "") else check_text(name, raw, 1000)
        elif name == "base_url":
            if raw in (None, ""):
                values[name] = None
            else:
                url = check_text(name, raw, 1000).rstrip("/")
                if not url.startswith(("http://", "https://")):
                    raise InvalidPartner(name, "an http:// or https:// URL expected")
                values[name] = url
        elif name == "timeout_seconds":
            values[name] = _to_number(name, raw, 0.1, 120, integer=False)
        elif name in ("retries", "purge_days"):
            values[name] = int(_to_number(name, raw, 0, 10 if name == "retries" else 36_500,
                                          integer=True))
        elif name in ("expiry_date", "purge_date"):
            values[name] = _to_date(name, raw)
        elif name == "expiry":
            try:
                values[name] = ExpiryMode(str(raw))
            except ValueError:
                raise InvalidPartner(name, "source, fixed or none expected") from None
        elif name == "purge":
            try:
                values[name] = PurgeMode(str(raw))
            except ValueError:
                raise InvalidPartner(name, "none, fixed or after_expiry expected") from None
        else:  # the booleans
            values[name] = _to_bool(name, raw)
    updated = replace(partner, **values)
    if updated.expiry is ExpiryMode.FIXED and updated.expiry_date is None:
        raise InvalidPartner("expiry_date", "required when expiry is fixed")
    if updated.purge is PurgeMode.FIXED and updated.purge_date is None:
        raise InvalidPartner("purge_date", "required when purge is fixed")
    if updated.base_url is not None and updated.api_key is None:
        raise InvalidPartner("api_key", "required for a partner on another deployment")
    return updated
