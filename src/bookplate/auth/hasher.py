"""The password hasher the services are built with (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    """argon2id, m = 19 MiB, t = 2, p = 1 (OWASP's first recommended set; documented with its
    timings in docs/operations.md). argon2-cffi's defaults (64 MiB, t = 3, p = 4) are too slow
    for a sign-in's latency budget on a small machine (docs/benchmarks.md, "Figures behind
    code choices").
    Hashes made with other parameters still verify: the parameters are stored in each hash."""

    TIME_COST = 2
    MEMORY_KIB = 19_456
    PARALLELISM = 1

    def __init__(self) -> None:
        self._argon = Argon2(time_cost=self.TIME_COST, memory_cost=self.MEMORY_KIB,
                             parallelism=self.PARALLELISM)

    def hash(self, password: str) -> str:
        return self._argon.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
