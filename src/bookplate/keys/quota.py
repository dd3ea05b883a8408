"""Alma's daily threshold: how many API calls an institution may make per UTC day.

Counted in the shared counter (Redis or the database), so every worker spends the same
allowance. The counter's bucket is ``daily:<institution>`` and its "second" is the end of the
day (epoch seconds): that keeps the row clear of the per-second counter's clean-up, which only
removes seconds already past.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bookplate.keys.errors import DailyThreshold
from bookplate.keys.ports import RateCounter

DAY = 86_400


@dataclass
class DailyQuota:
    counter: RateCounter
    limit: int
    clock: Callable[[], float] = field(default=time.time)

    def spend(self, institution: str) -> int:
        """Count one call; return the calls left today, or raise DailyThreshold (left: 0)."""
        now = int(self.clock())
        day_end = now - now % DAY + DAY
        used = self.counter.hit(f"daily:{institution}", day_end, 1)
        if used > self.limit:
            raise DailyThreshold()
        return self.limit - used
