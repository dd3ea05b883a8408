"""Creating, listing, revoking and checking API keys, and the per-second threshold."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from bookplate.errors import StorageUnavailable
from bookplate.keys.errors import AreaNotAllowed, InvalidApiKey, PerSecondThreshold
from bookplate.keys.model import Access, ApiKey, Area, hash_secret, new_secret
from bookplate.keys.ports import ApiKeyRepository, RateCounter
from bookplate.keys.quota import DailyQuota
from bookplate.transactions import Transactional

log = structlog.get_logger("bookplate.keys")


class KeysUnitOfWork(Transactional, Protocol):
    keys: ApiKeyRepository


def parse_areas(specs: list[str]) -> dict[Area, Access]:
    """``["users:rw", "conf:ro"]`` -> areas; raises ValueError on an unknown area or access."""
    areas: dict[Area, Access] = {}
    for spec in specs:
        name, _, access = spec.partition(":")
        areas[Area(name.strip().lower())] = Access((access or "ro").strip().lower())
    return areas


def claim_size(per_second: int) -> int:
    """How many calls a worker claims from the shared counter at once: 1/20 of the limit."""
    return max(1, per_second // 20)


@dataclass
class KeyService:
    uow_factory: Callable[[], KeysUnitOfWork]
    counter: RateCounter
    cache_seconds: float = 5.0
    # Units for the key look-up of ``authenticate`` (a read-only unit skips BEGIN/ROLLBACK on
    # PostgreSQL); None: ``uow_factory``.
    read_uow_factory: Callable[[], KeysUnitOfWork] | None = None
    clock: Callable[[], float] = time.time
    # Alma's daily threshold per institution (docs/sandbox.md); None: no daily limit.
    daily: DailyQuota | None = None

    def __post_init__(self) -> None:
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._budgets: dict[str, tuple[int, int]] = {}  # key id -> (second, calls left)
        # While the shared counter cannot be written: key id -> (second, calls counted here).
        self._local: dict[str, tuple[int, int]] = {}
        self._warned = 0.0

    def create(
        self, institution: str, name: str, areas: dict[Area, Access], per_second: int = 50
    ) -> tuple[ApiKey, str]:
        key_id, secret = new_secret()
        key = ApiKey(key_id, institution, name, areas, per_second, datetime.now(UTC))
        with self.uow_factory() as uow:
            uow.keys.add(key, hash_secret(secret))
            uow.commit()
        return key, secret

    def forget(self) -> None:
        """Drop this process's cached key look-ups (after keys were removed or restored)."""
        self._cache.clear()

    def list(self, institution: str | None = None) -> list[ApiKey]:
        with self.uow_factory() as uow:
            return uow.keys.list(institution)

    def revoke(self, key_id: str) -> bool:
        with self.uow_factory() as uow:
            done = uow.keys.revoke(key_id)
            uow.commit()
        self._cache.clear()
        return done

    def authenticate(self, secret: str | None) -> ApiKey:
        """The key behind ``secret``; cached per process for ``cache_seconds``."""
        if not secret or len(secret) > 200:
            raise InvalidApiKey()
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.cache_seconds:
            key = cached[1]
        else:
            with (self.read_uow_factory or self.uow_factory)() as uow:
                key = uow.keys.by_hash(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, key)
        if key is None or key.revoked is not None:
            raise InvalidApiKey()
        return key

    def authorise(self, key: ApiKey, area: Area, write: bool) -> None:
        if not key.allows(area, write):
            raise AreaNotAllowed(area.value, write)

    def throttle(self, key: ApiKey) -> None:
        """Raise PerSecondThreshold past the key's calls per second.

        The count is shared by every worker through the counter, but a worker does not ask it
        for every call: it claims a share of the second's allowance (``claim_size``) and spends
        it locally. All workers together never exceed the limit; a share claimed and not spent
        may make another worker refuse up to that many calls early (at most 1/20 of the limit
        per worker, and nothing for limits under 40/s, where every call is counted).
        """
        second = int(self.clock())
        state = self._budgets.get(key.key_id)
        if state is not None and state[0] == second and state[1] > 0:
            self._budgets[key.key_id] = (second, state[1] - 1)
            return
        claim = claim_size(key.per_second)
        try:
            total = self.counter.hit(f"key:{key.key_id}", second, claim)
        except StorageUnavailable:
            total = self._count_here(key.key_id, second, claim)
        granted = min(claim, key.per_second - (total - claim))
        if granted <= 0:
            self._budgets[key.key_id] = (second, 0)
            raise PerSecondThreshold()
        self._budgets[key.key_id] = (second, granted - 1)

    def _count_here(self, key_id: str, second: int, claim: int) -> int:
        """The shared counter cannot be written (disk full, read-only database): count in
        this process so that reads keep being answered. Each worker then applies the key's
        limit on its own (docs/operations.md, "When the database cannot be written")."""
        now = time.monotonic()
        if now - self._warned > 60:
            self._warned = now
            log.warning("rate_counter_unavailable", detail="counting calls per worker")
        state = self._local.get(key_id)
        total = (state[1] if state is not None and state[0] == second else 0) + claim
        if len(self._local) > 10_000:
            self._local.clear()
        self._local[key_id] = (second, total)
        return total

    def spend_daily(self, key: ApiKey) -> int | None:
        """Count the call against the institution's daily threshold: the calls left, None
        without a threshold; DailyThreshold past it."""
        if self.daily is None:
            return None
        return self.daily.spend(key.institution)
