"""The failed-login counter in Redis, shared by every worker process."""

from __future__ import annotations

from typing import Any

import redis


class RedisLockoutCounter:
    """``auth.ports.LockoutCounter``: INCR a failure key that expires ``lock_seconds`` after
    the last failure; at ``limit`` a lock key is set for ``lock_seconds``. Redis' own TTLs
    end the lock, so ``now`` is not used."""

    def __init__(self, client: redis.Redis | str, limit: int = 15, lock_seconds: int = 1800,
                 prefix: str = "bookplate:login:") -> None:
        self._client: redis.Redis = (
            redis.Redis.from_url(client) if isinstance(client, str) else client
        )
        self._limit = limit
        self._lock = lock_seconds
        self._prefix = prefix

    def is_locked(self, key: str, now: float) -> bool:
        return bool(self._client.exists(f"{self._prefix}lock:{key}"))

    def failure(self, key: str, now: float) -> bool:
        fails = f"{self._prefix}fail:{key}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(fails)
        pipe.expire(fails, self._lock)
        results: list[Any] = pipe.execute()
        if int(results[0]) >= self._limit:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(f"{self._prefix}lock:{key}", 1, ex=self._lock)
            pipe.delete(fails)
            pipe.execute()
            return True
        return False

    def clear(self, key: str) -> None:
        self._client.delete(f"{self._prefix}fail:{key}", f"{self._prefix}lock:{key}")


class RedisAttemptCounter:
    """``auth.ports.AttemptCounter``: INCR a key whose TTL is pushed out to
    ``window_seconds`` after each request (so a quiet window starts a new count)."""

    def __init__(self, client: redis.Redis | str, prefix: str = "bookplate:attempts:") -> None:
        self._client: redis.Redis = (
            redis.Redis.from_url(client) if isinstance(client, str) else client
        )
        self._prefix = prefix

    def hit(self, key: str, now: float, window_seconds: int) -> int:
        name = f"{self._prefix}{key}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, window_seconds)
        results: list[Any] = pipe.execute()
        return int(results[0])
