"""Settings every test shares.

Hypothesis' "too slow" health check and its per-example deadline measure the machine, not the
code: on this 2-core machine a busy hour makes input generation several times slower and the
property tests fail without any behaviour having changed. Speed is measured by `bench/`, so
the shared profile turns both off; the properties themselves are checked as before.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "bookplate", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("bookplate")
