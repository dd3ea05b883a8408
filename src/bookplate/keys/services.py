"""Creating, listing, revoking and checking API keys, and the per-second threshold."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from bookplate.errors import StorageUnavailable
from bookplate.keys.errors import (
    AreaNotAllowed,
    InvalidApiKey,
    InvalidKeyInput,
    KeyNotFound,
    PerSecondThreshold,
)
from bookplate.keys.model import Access, ApiKey, Area, hash_secret, new_secret
from bookplate.keys.ports import ApiKeyRepository, RateCounter
from bookplate.keys.quota import DailyQuota
from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor
from bookplate.roles.policy import Action, decide
from bookplate.transactions import Transactional

log = structlog.get_logger("bookplate.keys")


class KeysUnitOfWork(Transactional, Protocol):
    keys: ApiKeyRepository


#: Who a change is recorded as when no person makes it (the CLI is the operator's).
SYSTEM = "system"
MAX_PER_SECOND = 100_000
#: A key's last use is written at most this often (seconds), so reads do not all write.
LAST_USE_EVERY = 60.0


def parse_areas(specs: list[str]) -> dict[Area, Access]:
    """``["users:rw", "conf:ro"]`` -> areas; raises ValueError on an unknown area or access."""
    areas: dict[Area, Access] = {}
    for spec in specs:
        name, _, access = spec.partition(":")
        areas[Area(name.strip().lower())] = Access((access or "ro").strip().lower())
    return areas


def check_key(name: str, per_second: int) -> None:
    """The rules of a new key, for every way in (page, CLI, sandbox)."""
    if len(name) > 255:
        raise InvalidKeyInput("The name is too long (at most 255 characters).")
    if any(not ch.isprintable() for ch in name):
        raise InvalidKeyInput("The name holds control characters, which are not allowed.")
    if not 1 <= per_second <= MAX_PER_SECOND:
        raise InvalidKeyInput(f"Calls per second must be between 1 and {MAX_PER_SECOND:,}.")


def _allowed(actor: Actor | None) -> None:
    if actor is not None:
        decision = decide(actor, Action.MANAGE_KEYS)
        if not decision:
            raise PermissionDenied(Action.MANAGE_KEYS.value, decision.reason)


def _detail(key: ApiKey) -> dict[str, object]:
    """What the audit log keeps of a key: never its secret or hash."""
    return {"name": key.name, "per_second": key.per_second,
            "areas": {a.value: x.value for a, x in key.areas.items()}}


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
        self._used: dict[str, float] = {}  # key id -> clock() of the last write of its use

    def create(
        self, institution: str, name: str, areas: dict[Area, Access], per_second: int = 50,
        *, actor: Actor | None = None, who: str = SYSTEM,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (returned once, stored hashed, never logged); audited as
        ``keys.create``. With ``actor``, the policy's ``manage_keys`` is asked first."""
        _allowed(actor)
        check_key(name, per_second)
        key_id, secret = new_secret()
        key = ApiKey(key_id, institution, name, areas, per_second, datetime.now(UTC))
        with self.uow_factory() as uow:
            uow.keys.add(key, hash_secret(secret))
            uow.keys.record(institution, who, "keys.create", f"key:{key_id}", _detail(key))
            uow.commit()
        return key, secret

    def forget(self) -> None:
        """Drop this process's cached key look-ups (after keys were removed or restored)."""
        self._cache.clear()

    def list(self, institution: str | None = None) -> list[ApiKey]:
        with self.uow_factory() as uow:
            return uow.keys.list(institution)

    def get(self, key_id: str, institution: str | None = None) -> ApiKey:
        with self.uow_factory() as uow:
            key = uow.keys.get(key_id)
        if key is None or (institution is not None and key.institution != institution):
            raise KeyNotFound(key_id)
        return key

    def revoke(self, key_id: str, *, institution: str | None = None,
               actor: Actor | None = None, who: str = SYSTEM) -> bool:
        """Revoke a key (of ``institution`` when given: another's is not found); False when it
        was revoked already. Audited as ``keys.revoke``."""
        _allowed(actor)
        with self.uow_factory() as uow:
            key = uow.keys.get(key_id)
            if key is None or (institution is not None and key.institution != institution):
                return False
            done = uow.keys.revoke(key_id)
            if done:
                uow.keys.record(key.institution, who, "keys.revoke", f"key:{key_id}",
                                _detail(key))
            uow.commit()
        self._cache.clear()
        return done

    def note_use(self, key: ApiKey) -> None:
        """Remember that ``key`` was used now: written at most once a minute per key by this
        process, and not at all when another worker wrote it in the last minute. A database
        that cannot be written does not stop the call."""
        now = self.clock()
        if now - self._used.get(key.key_id, -LAST_USE_EVERY) < LAST_USE_EVERY:
            return
        if len(self._used) > 10_000:
            self._used.clear()
        self._used[key.key_id] = now
        at = datetime.fromtimestamp(now, UTC)
        try:
            with self.uow_factory() as uow:
                uow.keys.touch(key.key_id, at, datetime.fromtimestamp(now - LAST_USE_EVERY, UTC))
                uow.commit()
        except StorageUnavailable:
            log.warning("api_key_last_use_not_written", key=key.key_id)

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
        self.note_use(key)
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
