"""Every user field copied into a column of ``users`` is limited (``users.shape``) to what the
column holds: PostgreSQL refuses longer text, which would be a server error instead of the
Alma error the validation gives."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from bookplate.storage import tables as t
from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import User
from bookplate.users.shape import USER
from bookplate.users.validation import check_text

TEXT_COLUMNS = [
    c.name
    for c in t.users.c
    if isinstance(c.type, String) and c.type.length and c.name in {f.name for f in USER.fields}
]


@pytest.mark.parametrize("name", TEXT_COLUMNS)
def test_the_declared_limit_fits_the_column(name: str) -> None:
    field = USER.get(name)
    length = t.users.c[name].type.length  # type: ignore[attr-defined]
    if field.table is not None:
        return  # a code: checked against its code table, whose codes fit (bookplate codes set)
    assert field.max_length <= length, name
    user = User(primary_id="p")
    setattr(user, name, "x" * (length + 1))
    with pytest.raises(InvalidFieldValue):
        check_text(user)
