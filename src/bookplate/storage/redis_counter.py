"""A per-second call counter shared by every worker, kept in Redis."""

from __future__ import annotations

from typing import Any

import redis


class RedisRateCounter:
    """``keys.ports.RateCounter``: INCR + EXPIRE of ``<prefix><bucket>:<second>`` in one
    pipeline round trip. Give a client, or a URL (then ``close()`` closes the client)."""

    def __init__(
        self,
        client: redis.Redis | str = "redis://127.0.0.1:6379/0",
        prefix: str = "bookplate:rate:",
        ttl_seconds: int = 5,
    ) -> None:
        if isinstance(client, str):
            self._client: redis.Redis = redis.Redis.from_url(client)
            self._owned = True
        else:
            self._client = client
            self._owned = False
        self._prefix = prefix
        self._ttl = ttl_seconds

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRateCounter:
        return cls(url, **kwargs)

    def hit(self, bucket: str, second: int, amount: int = 1) -> int:
        key = f"{self._prefix}{bucket}:{second}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incrby(key, amount)
        pipe.expire(key, self._ttl)
        results: list[Any] = pipe.execute()
        return int(results[0])

    def close(self) -> None:
        if self._owned:
            self._client.close()
