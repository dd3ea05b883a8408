"""Storage of API keys and the shared per-second counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bookplate.keys.model import ApiKey


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey, secret_hash: str) -> None: ...

    def by_hash(self, secret_hash: str) -> ApiKey | None: ...

    def list(self, institution: str | None = None) -> list[ApiKey]: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def revoke(self, key_id: str) -> bool: ...

    def touch(self, key_id: str, at: datetime, not_since: datetime) -> None:
        """Set the key's last use to ``at`` unless it was set at or after ``not_since``."""
        ...

    def record(
        self, institution: str, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        """One row of the audit log (who, when, what), in the same transaction."""
        ...


class RateCounter(Protocol):
    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        """Add ``amount`` calls for ``bucket`` in epoch ``second``; return the count so far.
        Shared by every worker process (Redis or the database)."""
        ...
