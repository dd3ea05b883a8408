"""The shared counters of sign-in: the lockout and the reset-request counter, in the database
(SQLite and PostgreSQL) and in Redis (``BOOKPLATE_TEST_REDIS_URL``, e.g.
``redis://127.0.0.1:6379/15``): thresholds, windows, and that clearing ends a lock (what an
administrator's unlock and a password reset rely on)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from bookplate.storage.auth_repo import SqlAttemptCounter, SqlLockoutCounter
from bookplate.storage.redis_lockout import RedisAttemptCounter, RedisLockoutCounter

REDIS_URL = os.environ.get("BOOKPLATE_TEST_REDIS_URL")
NOW = 1_800_000_000.0


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    if not REDIS_URL:
        pytest.skip("BOOKPLATE_TEST_REDIS_URL not set")
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def _prefix() -> str:
    return f"bookplate-test:{uuid.uuid4().hex[:12]}:"


def _cleanup(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def _lock_and_clear(counter: Any) -> None:
    key = "MAIN:jdoe"
    assert [counter.failure(key, NOW + i) for i in range(3)] == [False, False, True]
    assert counter.is_locked(key, NOW + 3)
    assert not counter.is_locked("MAIN:other", NOW + 3)
    counter.clear(key)  # an administrator's unlock, or a password reset
    assert not counter.is_locked(key, NOW + 4)
    assert counter.failure(key, NOW + 5) is False  # counting starts again


def test_database_lockout_threshold_and_clear(engine: Engine) -> None:
    counter = SqlLockoutCounter(engine, limit=3, lock_seconds=120)
    _lock_and_clear(counter)
    for i in range(3):
        counter.failure("MAIN:late", NOW + i)
    assert counter.is_locked("MAIN:late", NOW + 100)
    assert not counter.is_locked("MAIN:late", NOW + 125)  # the lock time has passed


def test_redis_lockout_threshold_and_clear(redis_client: redis.Redis) -> None:
    prefix = _prefix()
    try:
        _lock_and_clear(RedisLockoutCounter(redis_client, limit=3, lock_seconds=120,
                                            prefix=prefix))
    finally:
        _cleanup(redis_client, prefix)


def _window(counter: Any) -> None:
    assert [counter.hit("reset:a", NOW + i, 60) for i in range(3)] == [1, 2, 3]
    assert counter.hit("reset:b", NOW, 60) == 1


def test_database_attempt_counter(engine: Engine) -> None:
    counter = SqlAttemptCounter(engine)
    _window(counter)
    assert counter.hit("reset:a", NOW + 200, 60) == 1  # a quiet window starts a new count
    # apart from the lockout's rows in the same table
    lockout = SqlLockoutCounter(engine, limit=2)
    lockout.failure("MAIN:jdoe", NOW)
    assert counter.hit("reset:a", NOW + 201, 60) == 2
    assert not lockout.is_locked("MAIN:jdoe", NOW)


def test_redis_attempt_counter(redis_client: redis.Redis) -> None:
    prefix = _prefix()
    try:
        counter = RedisAttemptCounter(redis_client, prefix=prefix)
        _window(counter)
        ttl = redis_client.ttl(f"{prefix}reset:a")
        assert 0 < int(ttl) <= 60  # type: ignore[arg-type]
    finally:
        _cleanup(redis_client, prefix)
