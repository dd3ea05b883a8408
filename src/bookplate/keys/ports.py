"""Storage of API keys and the shared per-second counter."""

from __future__ import annotations

from typing import Protocol

from bookplate.keys.model import ApiKey


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey, secret_hash: str) -> None: ...

    def by_hash(self, secret_hash: str) -> ApiKey | None: ...

    def list(self, institution: str | None = None) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> bool: ...


class RateCounter(Protocol):
    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        """Add ``amount`` calls for ``bucket`` in epoch ``second``; return the count so far.
        Shared by every worker process (Redis or the database)."""
        ...
