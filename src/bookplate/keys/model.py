"""API keys and the areas they open (SPEC section 2.1)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Area(StrEnum):
    USERS = "users"
    CONFIGURATION = "conf"


class Access(StrEnum):
    READ = "ro"
    WRITE = "rw"


KEY_PREFIX = "bp_"


@dataclass(slots=True)
class ApiKey:
    key_id: str  # public handle, shown in listings and logs
    institution: str
    name: str
    areas: dict[Area, Access] = field(default_factory=dict)
    per_second: int = 50
    created: datetime | None = None
    revoked: datetime | None = None
    last_used: datetime | None = None

    def allows(self, area: Area, write: bool) -> bool:
        access = self.areas.get(area)
        if access is None or self.revoked is not None:
            return False
        return access is Access.WRITE or not write


def new_secret() -> tuple[str, str]:
    """A fresh key: (key id, full secret). The secret is shown once and stored hashed."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def hash_secret(secret: str) -> str:
    """Keys are 190 random bits, so one SHA-256 is safe and keeps each request cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()
