from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from bookplate.storage import tables as t
from bookplate.storage.bulk import bulk_insert_users
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.errors import DuplicateId
from bookplate.users.queries import UserSearch, parse_q

from .builders import make_user, rich_user


def test_bulk_insert_then_find_and_search(engine: Engine) -> None:
    users = (
        make_user(
            f"bulk{i:04d}",
            identifiers=[("BARCODE", f"BC{i:04d}")],
            first_name="Bulk",
            last_name=f"Person{i % 7}",
        )
        for i in range(1234)
    )
    assert bulk_insert_users(engine, users, batch=500) == 1234
    assert bulk_insert_users(engine, [rich_user("rich")]) == 1
    with SqlUnitOfWork(engine) as uow:
        found = uow.users.find("MAIN", "bc0777", "BARCODE")
        assert found is not None and found.primary_id == "bulk0777"
        assert uow.users.find("MAIN", "BULK1233") is not None
        assert uow.users.find("MAIN", "rich") == rich_user("rich")
        result = uow.users.search(UserSearch("MAIN", parse_q("last_name~person3"), limit=5))
        assert result.total == len([i for i in range(1234) if i % 7 == 3])
        # normal writes continue after a bulk load (the id sequence moved on)
        uow.users.add(make_user("after"), None)
        uow.commit()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.users)).scalar_one() == 1236


def test_bulk_duplicate_raises(engine: Engine) -> None:
    bulk_insert_users(engine, [make_user("one")])
    with pytest.raises(DuplicateId):
        bulk_insert_users(engine, [make_user("two"), make_user("ONE")])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.users)).scalar_one() == 1
