from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookplate.users.services import UserService
from tests.unit.fakes import MemoryCodes, MemoryUow, MemoryUsers, PlainHasher


@pytest.fixture
def memory() -> tuple[MemoryUsers, MemoryCodes]:
    return MemoryUsers(), MemoryCodes()


@pytest.fixture
def service(memory: tuple[MemoryUsers, MemoryCodes]) -> UserService:
    users, codes = memory
    return UserService(
        lambda: MemoryUow(users, codes),
        PlainHasher(),
        clock=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
