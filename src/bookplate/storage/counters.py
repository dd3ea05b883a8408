"""The shared per-second counters (``keys.ports.RateCounter``): database or Redis."""

from __future__ import annotations

from bookplate.storage.rate_counter import SqlRateCounter
from bookplate.storage.redis_counter import RedisRateCounter

DatabaseRateCounter = SqlRateCounter

__all__ = ["DatabaseRateCounter", "RedisRateCounter", "SqlRateCounter"]
