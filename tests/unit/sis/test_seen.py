"""What a run remembers per record (``sis.seen``) and that a run's memory does not grow with
the file: tracemalloc peaks of runs over 2,000 and 20,000 records (no timing)."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Container, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bookplate.sis.apply import Runner
from bookplate.sis.batch import fingerprint
from bookplate.sis.model import MissingPolicy, Mode, Profile, Report
from bookplate.sis.ports import AuditRow, Found, ItemRow
from bookplate.sis.seen import KeySet, NoPks, PkBits
from bookplate.sis.sources.base import Position, RawRecord
from bookplate.users.model import User

# -- the structures ------------------------------------------------------------------------


def test_keyset_is_a_set_of_64_bit_keys_through_its_splits() -> None:
    rng = random.Random(7)
    keys = [rng.getrandbits(64) for _ in range(60_000)] + [0, (1 << 64) - 1, 1 << 63]
    seen = KeySet()
    reference: set[int] = set()
    for key in keys:
        assert (key in seen) == (key in reference)
        seen.add(key)
        reference.add(key)
        assert key in seen
    seen.add(keys[0])  # twice: still one
    assert len(seen) == len(reference)
    assert all(k in seen for k in keys)
    misses = [rng.getrandbits(64) for _ in range(5_000)]
    assert sum(k in seen for k in misses) == sum(k in reference for k in misses)
    assert -1 not in seen and "x" not in seen and 1 << 64 not in seen
    with pytest.raises(ValueError):
        seen.add(-1)
    with pytest.raises(ValueError):
        seen.add(1 << 64)


def test_keyset_needs_about_nine_bytes_a_key() -> None:
    rng = random.Random(8)
    keys = [rng.getrandbits(64) for _ in range(50_000)]
    gc.collect()
    tracemalloc.start()
    seen = KeySet()
    for key in keys:
        seen.add(key)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(seen) == len(set(keys))
    assert size / len(keys) < 16


def test_pk_bits() -> None:
    bits = PkBits()
    assert 5 not in bits and len(bits) == 0
    bits.update([5, 1, 5, 100_000, 0])
    assert len(bits) == 4
    assert all(pk in bits for pk in (0, 1, 5, 100_000))
    assert all(pk not in bits for pk in (2, 4, 6, 99_999, 100_001, 10**9, -1))
    assert "5" not in bits
    with pytest.raises(ValueError):
        bits.add(-1)
    with pytest.raises(ValueError):
        bits.add(1 << 64)


def test_pk_bits_with_sparse_keys_move_to_a_keyset() -> None:
    """Keys far apart (a bitmap would take 16+ bits a key beyond 1 MiB) are kept ~9 bytes
    each, and every answer stays right."""
    rng = random.Random(9)
    keys = {rng.randrange(1, 1 << 40) for _ in range(20_000)} | {1, 2, 3}
    gc.collect()
    tracemalloc.start()
    bits = PkBits()
    bits.update(sorted(keys)[:3])
    bits.update(keys)
    size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(bits) == len(keys)
    assert all(k in bits for k in keys)
    assert sum(k in bits for k in range(4, 20_000) if k not in keys) == 0
    assert size < 1 << 20 and peak < 4 << 20


def test_no_pks_remembers_nothing() -> None:
    none = NoPks()
    none.update([1, 2])
    none.add(3)
    assert 1 not in none and len(none) == 0


# -- a run's memory ------------------------------------------------------------------------


def _mid(number: int) -> str:
    return f"p{number:07d}"


def _raw(match_id: str) -> bytes:
    return f"<user><primary_id>{match_id}</primary_id><last_name>Lee</last_name></user>".encode()


class _Source:
    """Records made on the fly (nothing held)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.position = Position()

    def records(self) -> Iterator[RawRecord]:
        for number in range(1, self.count + 1):
            match_id = _mid(number)
            yield RawRecord(number, None, match_id, _raw(match_id))

    def parse(self, record: RawRecord) -> User:  # pragma: no cover - every record unchanged
        raise AssertionError("unchanged records are not parsed")


class _Batch:
    """Every match ID is a stored user (pk = its number) whose fingerprint is the record's:
    the run goes through the cheap path (unchanged), which is what remembers most."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def lookup(
        self, institution: str, match_id_type: str, norms: Sequence[str]
    ) -> dict[str, Found]:
        return {n: Found(int(n[1:]), fingerprint(self.key, _raw(n))) for n in norms}

    def load(self, pks: Sequence[int]) -> dict[int, User]:
        return {}

    def id_holders(self, institution: str, norms: Sequence[str]) -> dict[str, Any]:
        return {}

    def prepare(self, users: Sequence[User]) -> object:
        return None

    def create(
        self, users: Sequence[tuple[User, str]], prepared: object | None = None
    ) -> list[int]:
        return []

    def update(self, users: Sequence[tuple[int, User, str]]) -> None:
        return None

    def set_fingerprints(self, rows: Sequence[tuple[int, str]]) -> None:
        return None

    def add_items(self, run_id: int, rows: Sequence[ItemRow]) -> None:
        return None

    def update_run(self, report: Report) -> None:
        return None

    def audit(self, institution: str, actor: str, at: datetime, rows: Sequence[AuditRow]) -> None:
        return None

    def savepoint(self) -> Any:
        return nullcontext()

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None


class _Store:
    def __init__(self, count: int, key: bytes) -> None:
        self.count = count
        self.key = key
        self.missing: list[int] = []

    @contextmanager
    def batch(self, *, read_only: bool = False) -> Iterator[_Batch]:
        yield _Batch(self.key)

    def start_run(self, report: Report) -> int:
        return 1

    def finish_run(self, report: Report) -> None:
        return None

    def profile_user_count(self, institution: str, code: str) -> int:
        return self.count + 1

    def missing_users(
        self,
        institution: str,
        code: str,
        seen: Container[int],
        active_only: bool,
        expire_on: date | None,
    ) -> Iterator[tuple[int, str]]:
        for pk in range(1, self.count + 2):  # one stored user more than the file holds
            if pk not in seen:
                yield pk, _mid(pk)

    def deactivate(self, pks: Any, **kwargs: Any) -> None:
        self.missing.extend(pks)


def _peak(count: int) -> int:
    profile = Profile(
        code="SIS", institution="MAIN", missing_policy=MissingPolicy.DEACTIVATE, guard_share=1.0
    )
    key = profile.fingerprint_key() + Mode.SYNCHRONIZE.value.encode()
    store = _Store(count, key)
    runner = Runner(
        store=store,  # type: ignore[arg-type]
        source=_Source(count),
        profile=profile,
        mode=Mode.SYNCHRONIZE,
        check=lambda user: None,
        today=date(2026, 1, 1),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        batch_size=200,
    )
    gc.collect()
    tracemalloc.start()
    try:
        report = runner.run("users.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.status == "done", report.message
    assert report.counts["unchanged"] == count and report.counts["deactivate"] == 1
    assert store.missing == [count + 1]  # the missing-users policy saw every file user
    return peak


def test_a_runs_memory_does_not_grow_with_the_file() -> None:
    small, large = _peak(2_000), _peak(20_000)
    per_record = (large - small) / 18_000
    # A set of Python ints per run (match keys, users' keys) costs ~100+ bytes a record.
    assert per_record < 24, f"{per_record:.0f} bytes a record ({small} -> {large})"
    assert large < 1.5 * small, (small, large)
