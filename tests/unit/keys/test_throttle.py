"""The per-second threshold: shared between workers, claimed in shares, never exceeded."""

from __future__ import annotations

import pytest

from bookplate.keys.errors import PerSecondThreshold
from bookplate.keys.model import ApiKey
from bookplate.keys.services import KeyService, claim_size


class SharedCounter:
    """Stands in for Redis: one count per (bucket, second), seen by every worker."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.calls = 0

    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        self.calls += 1
        key = (bucket, second)
        self.counts[key] = self.counts.get(key, 0) + amount
        return self.counts[key]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def workers(n: int, counter: SharedCounter, clock: Clock) -> list[KeyService]:
    def no_uow() -> object:
        raise AssertionError("not used")

    return [KeyService(no_uow, counter, clock=clock) for _ in range(n)]  # type: ignore[arg-type]


def allowed(service: KeyService, key: ApiKey, calls: int) -> int:
    ok = 0
    for _ in range(calls):
        try:
            service.throttle(key)
            ok += 1
        except PerSecondThreshold:
            pass
    return ok


@pytest.mark.parametrize("limit", [1, 3, 50, 1000, 100_000])
def test_never_more_than_the_limit_across_workers(limit: int) -> None:
    counter, clock = SharedCounter(), Clock()
    key = ApiKey("k1", "MAIN", "n", per_second=limit)
    pool = workers(3, counter, clock)
    total = sum(allowed(w, key, limit) for w in pool)  # each worker tries the whole limit
    assert total <= limit
    assert total >= limit - 2 * claim_size(limit)  # at most the other workers' unspent shares
    clock.now += 1  # a new second: allowance again
    assert allowed(pool[0], key, 1) == 1


def test_small_limits_count_every_call() -> None:
    counter, clock = SharedCounter(), Clock()
    key = ApiKey("k1", "MAIN", "n", per_second=3)
    (w,) = workers(1, counter, clock)
    assert allowed(w, key, 10) == 3
    assert counter.calls == 10


def test_large_limits_need_few_round_trips() -> None:
    counter, clock = SharedCounter(), Clock()
    key = ApiKey("k1", "MAIN", "n", per_second=10_000)
    (w,) = workers(1, counter, clock)
    assert allowed(w, key, 2_000) == 2_000
    assert counter.calls == 2_000 // claim_size(10_000)


class UnwritableCounter:
    """The shared counter's store cannot take writes (a full disk, a read-only database)."""

    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        from bookplate.errors import StorageUnavailable

        raise StorageUnavailable()


def test_a_counter_that_cannot_be_written_still_limits_per_worker() -> None:
    clock = Clock()
    key = ApiKey("k1", "MAIN", "n", per_second=5)
    (w,) = workers(1, UnwritableCounter(), clock)  # type: ignore[arg-type]
    assert allowed(w, key, 8) == 5  # calls go on, the limit still holds in this worker
    clock.now += 1
    assert allowed(w, key, 1) == 1
