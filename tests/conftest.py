"""Settings every test shares.

Hypothesis' "too slow" health check and its per-example deadline measure the machine, not the
code: on this 2-core machine a busy hour makes input generation several times slower and the
property tests fail without any behaviour having changed. Speed is measured by `bench/`, so
the shared profile turns both off; the properties themselves are checked as before.

Parallel workers (pytest-xdist, ``./test.sh`` uses them; see docs/operations.md): every
PostgreSQL schema, temporary directory and loopback port is already unique per test, but the
Redis tests share ``BOOKPLATE_TEST_REDIS_URL``'s database and some of them use fixed keys
(``bookplate:login:MAIN:jdoe``). So each worker gets a Redis database of its own, counted down
from the configured one (worker gw0 uses 15 - 1 = 14, gw1 uses 13, ...). This runs before any
test module is imported, so the modules that read the variable at import time see it too.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings

settings.register_profile(
    "bookplate", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("bookplate")


def worker_redis_url(url: str, worker: str) -> str:
    """The Redis URL a parallel worker uses: the same server, database ``n - 1 - index``."""
    index = re.fullmatch(r"gw(\d+)", worker)
    if not index:
        return url
    found = re.fullmatch(r"(redis://[^/?#]+)(?:/(\d*))?(.*)", url)
    if not found:
        raise RuntimeError(f"BOOKPLATE_TEST_REDIS_URL is not a redis:// URL: {url!r}")
    base = int(found.group(2) or 0)
    db = base - 1 - int(index.group(1))
    if db < 0:
        raise RuntimeError(
            f"too many pytest workers for {url!r}: worker {worker} would need Redis database {db}"
        )
    return f"{found.group(1)}/{db}{found.group(3)}"


_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.environ.get("BOOKPLATE_TEST_REDIS_URL"):
    os.environ["BOOKPLATE_TEST_REDIS_URL"] = worker_redis_url(
        os.environ["BOOKPLATE_TEST_REDIS_URL"], _WORKER
    )
