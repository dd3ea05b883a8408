from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine, func, select

from bookplate.keys.model import Access, ApiKey, Area, hash_secret, new_secret
from bookplate.storage import tables as t
from bookplate.storage.counters import DatabaseRateCounter, RedisRateCounter
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.defaults import DEFAULT_CODE_TABLES, DEFAULT_GROUP_RECORD_TYPES
from bookplate.users.ports import CodeRow


def test_seed_fills_defaults_once(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.codes.seed("MAIN")
        uow.codes.seed("MAIN")  # idempotent
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.codes.table_names("MAIN") == sorted(DEFAULT_CODE_TABLES)
        assert uow.codes.table_names("OTHER") == []
        groups = uow.codes.rows("MAIN", "UserGroups")
        assert [(r.code, r.description) for r in groups] == list(DEFAULT_CODE_TABLES["UserGroups"])
        allowed = uow.codes.allowed_groups("MAIN")
        for group, record_types in DEFAULT_GROUP_RECORD_TYPES.items():
            for record_type in record_types:
                assert group in allowed[record_type]
        assert "VENDOR" not in allowed["PUBLIC"]


def test_put_remove_and_group_map(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.codes.seed("MAIN")
        uow.codes.put_row("MAIN", "UserGroups", CodeRow("VISITOR", "Visitor"))
        uow.codes.put_row("MAIN", "UserGroups", CodeRow("GRAD", "Postgraduate", True, True))
        uow.codes.put_row("MAIN", "UserGroups", CodeRow("ALUMNI", "Alumni", enabled=False))
        assert uow.codes.remove_row("MAIN", "UserGroups", "COMMUNITY") is True
        assert uow.codes.remove_row("MAIN", "UserGroups", "COMMUNITY") is False
        uow.codes.set_group_record_types("MAIN", "VISITOR", frozenset({"PUBLIC"}))
        uow.codes.set_group_record_types("MAIN", "FACULTY", frozenset({"STAFF"}))
        uow.codes.set_group_record_types("MAIN", "GRAD", frozenset())
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        rows = {r.code: r for r in uow.codes.rows("MAIN", "UserGroups")}
        assert rows["GRAD"] == CodeRow("GRAD", "Postgraduate", True, True)
        assert rows["ALUMNI"].enabled is False
        assert "COMMUNITY" not in rows
        codes = [r.code for r in uow.codes.rows("MAIN", "UserGroups")]
        assert codes[0] == "UNDERGRAD" and codes[-1] == "VISITOR"  # order kept, new at end
        allowed = uow.codes.allowed_groups("MAIN")
        assert "VISITOR" in allowed["PUBLIC"]
        assert "FACULTY" not in allowed["PUBLIC"] and "FACULTY" in allowed["STAFF"]
        assert "GRAD" not in allowed["PUBLIC"]


def test_api_keys(engine: Engine) -> None:
    key_id, secret = new_secret()
    key = ApiKey(
        key_id,
        "MAIN",
        "discovery",
        {Area.USERS: Access.READ},
        per_second=25,
        created=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    other_id, other_secret = new_secret()
    other = ApiKey(
        other_id, "OTHER", "sis", {Area.USERS: Access.WRITE, Area.CONFIGURATION: Access.READ}
    )
    with SqlUnitOfWork(engine) as uow:
        uow.keys.add(key, hash_secret(secret))
        uow.keys.add(other, hash_secret(other_secret))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        found = uow.keys.by_hash(hash_secret(secret))
        assert found == key
        assert uow.keys.by_hash(hash_secret("nope")) is None
        assert [k.key_id for k in uow.keys.list("MAIN")] == [key_id]
        assert {k.key_id for k in uow.keys.list()} == {key_id, other_id}
        got_other = uow.keys.by_hash(hash_secret(other_secret))
        assert got_other is not None and got_other.areas == other.areas
        assert got_other.created is not None and got_other.created.tzinfo is not None
        assert uow.keys.revoke(key_id) is True
        assert uow.keys.revoke(key_id) is False
        assert uow.keys.revoke("missing") is False
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        revoked = uow.keys.by_hash(hash_secret(secret))
        assert revoked is not None and revoked.revoked is not None
        assert not revoked.allows(Area.USERS, write=False)


def test_database_rate_counter(engine: Engine) -> None:
    counter = DatabaseRateCounter(engine, keep_seconds=5, cleanup_every=1000)
    now = int(time.time())
    assert [counter.hit("k1", now) for _ in range(3)] == [1, 2, 3]
    assert counter.hit("k2", now) == 1
    assert counter.hit("k1", now + 1) == 1
    assert counter.hit("k1", now - 100) == 1
    assert counter.cleanup(now) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.rate_counts)).scalar_one() == 3


def test_database_rate_counter_is_shared_between_threads(engine: Engine) -> None:
    counter = DatabaseRateCounter(engine)
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            value = counter.hit("shared", 42)
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(seen) == list(range(1, 41))


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    finally:
        client.close()
    yield url


def test_redis_rate_counter(redis_url: str) -> None:
    counter = RedisRateCounter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    try:
        assert [counter.hit("k", 100) for _ in range(3)] == [1, 2, 3]
        assert counter.hit("k", 101) == 1
        assert counter.hit("j", 100) == 1
    finally:
        counter.close()
