from __future__ import annotations

import pytest

from bookplate.alma.user import Describe
from bookplate.users.defaults import DEFAULT_CODE_TABLES


def default_describe(table: str, code: str) -> str | None:
    return dict(DEFAULT_CODE_TABLES.get(table, ())).get(code)


@pytest.fixture
def describe() -> Describe:
    return default_describe
