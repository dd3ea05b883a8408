"""The read paths tuned for throughput: read-only units of work, the GET look-ups, the search
rewritten to count from the term index, and the services' use of read-only units."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Engine, func, select, text
from sqlalchemy.engine import make_url

from bookplate.keys.model import Area
from bookplate.keys.services import KeyService
from bookplate.network.model import Institution
from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.engine import ReadOnlyViolation, make_engine
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.model import User
from bookplate.users.ports import ALL_UNIQUE, PRIMARY_ID
from bookplate.users.queries import Condition, Term, UserSearch, parse_q, search_terms
from bookplate.users.services import CodeBookCache, UserService

from .builders import make_user


def add(engine: Engine, *users: User) -> None:
    with SqlUnitOfWork(engine) as uow:
        for user in users:
            uow.users.add(user, None)
        uow.commit()


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.users)).scalar_one())


# -- read-only units of work -------------------------------------------------------------


def test_read_only_unit_reads(engine: Engine) -> None:
    add(engine, make_user("reader", identifiers=[("BARCODE", "B-1")], last_name="Okafor"))
    with SqlUnitOfWork(engine, read_only=True) as uow:
        user = uow.users.find("MAIN", "b-1")
        assert user is not None and user.primary_id == "reader"
        assert uow.users.search(UserSearch("MAIN", parse_q("last_name~okafor"))).total == 1


def test_read_only_unit_cannot_write(engine: Engine) -> None:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        with pytest.raises(ReadOnlyViolation):
            uow.users.add(make_user("intruder"), None)
        with pytest.raises(ReadOnlyViolation):
            uow.connection.exec_driver_sql("DELETE FROM users")
        with pytest.raises(ReadOnlyViolation):
            uow.connection.execute(text("UPDATE users SET status = 'INACTIVE'"))
        with pytest.raises(RuntimeError, match="read-only"):
            uow.commit()
    assert count_users(engine) == 0


def test_read_only_unit_on_postgresql_sends_no_transaction(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("AUTOCOMMIT reads are PostgreSQL's")
    with SqlUnitOfWork(engine, read_only=True) as uow:
        uow.users.find("MAIN", "nobody")
        dbapi = uow.connection.connection.dbapi_connection
        assert dbapi is not None and dbapi.autocommit is True
        assert dbapi.info.transaction_status == 0  # IDLE: no BEGIN was sent


def test_connection_is_transactional_again_after_a_read_only_unit(database_url: str) -> None:
    from bookplate.storage.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with SqlUnitOfWork(engine, read_only=True) as uow:
            uow.users.find("MAIN", "nobody")
        # the same pooled connection: a write unit left without commit must leave nothing
        with SqlUnitOfWork(engine) as uow:
            uow.users.add(make_user("uncommitted"), None)
        assert count_users(engine) == 0
        with SqlUnitOfWork(engine) as uow:
            uow.users.add(make_user("committed"), None)
            uow.commit()
        assert count_users(engine) == 1
    finally:
        engine.dispose()


def test_pool_pre_ping_is_off_by_default_and_can_be_asked_for() -> None:
    url = "postgresql+psycopg://u@127.0.0.1:1/x"  # never connected
    assert make_engine(url).pool._pre_ping is False
    assert make_engine(url, pool_pre_ping=True).pool._pre_ping is True
    assert make_url(str(make_engine(url).url)).drivername == "postgresql+psycopg"


# -- the GET look-ups --------------------------------------------------------------------


def test_find_by_any_id_and_primary_id(engine: Engine) -> None:
    add(
        engine,
        make_user("alpha", identifiers=[("BARCODE", "X-1")]),
        make_user("beta", identifiers=[("BARCODE", "X-2")]),
        make_user("gamma", "OTHER", identifiers=[("BARCODE", "X-9")]),
    )
    with SqlUnitOfWork(engine, read_only=True) as uow:
        for _ in range(3):  # cached statement, new parameters each time
            found = uow.users.find("MAIN", " X-2 ")
            assert found is not None and found.primary_id == "beta"
            assert found.institution == "MAIN"
        assert uow.users.find("MAIN", "x-9") is None  # another institution's barcode
        other = uow.users.find("OTHER", "x-9")
        assert other is not None and other.institution == "OTHER"
        assert uow.users.find("MAIN", "ALPHA", PRIMARY_ID) is not None
        assert uow.users.find("MAIN", "x-1", PRIMARY_ID) is None
        assert uow.users.find("OTHER", "gamma", ALL_UNIQUE) is not None
        assert uow.users.find("OTHER", "alpha", ALL_UNIQUE) is None


# -- search: same answers as the statement it replaced -----------------------------------


def _has(pairs: set[tuple[str, str]], fields: tuple[str, ...], term: Term) -> bool:
    """Whether one of ``pairs`` is ``term`` (or starts with it) in one of ``fields``."""
    return any(
        f in fields and (v.startswith(term.text) if term.prefix else v == term.text)
        for f, v in pairs
    )


def reference_search(engine: Engine, search: UserSearch) -> tuple[list[str], int]:
    """The search worked out without the term index: every stored document's terms
    (``search_terms``) matched in Python, then counted and sorted in SQL on ``users``."""
    u = t.users
    where: list[ColumnElement[bool]] = [u.c.institution == search.institution]
    with engine.connect() as conn:
        documents = conn.execute(
            select(u.c.id, u.c.institution, u.c.record).where(
                u.c.institution == search.institution
            )
        ).all()
    matching = [
        pk
        for pk, institution, record in documents
        if all(
            _has(search_terms(stored_user(institution, record)), c.fields, term)
            for c in search.conditions
            for term in c.terms
        )
    ]
    where.append(u.c.id.in_(matching))
    if search.modified_from is not None:
        start = datetime.combine(search.modified_from, time.min, tzinfo=UTC)
        where.append(u.c.last_modified_date >= start)
    if search.source_institution_code is not None:
        where.append(u.c.source_institution_code == search.source_institution_code)
    if search.source_user_id is not None:
        where.append(u.c.source_link_id == search.source_user_id)
    order: list[Any]
    if search.order_by == "last_name":
        order = [u.c.last_name_sort, u.c.primary_id_norm]
    elif search.order_by == "first_name":
        order = [u.c.first_name_sort, u.c.primary_id_norm]
    elif search.order_by == "primary_id":
        order = [u.c.primary_id_norm]
    else:
        order = [u.c.last_name_sort, u.c.first_name_sort, u.c.primary_id_norm]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(u).where(*where)).scalar_one()
        if search.limit <= 0 or search.offset >= total:
            return [], total
        rows = conn.execute(
            select(u.c.primary_id)
            .where(*where)
            .order_by(*order)
            .limit(search.limit)
            .offset(search.offset)
        )
        return [r[0] for r in rows], total


SURNAMES = ["Smith", "Smithson", "Jones", "Brown", "Müller", "Lee", "Garcia"]
FIRST = ["Ann", "Bob", "Cy", "Dee", "Smith"]


@pytest.fixture
def many(engine: Engine) -> Engine:
    rng = random.Random(7)
    users = []
    for i in range(120):
        last = rng.choice(SURNAMES)
        if rng.random() < 0.5:
            last = f"{last}-{rng.choice(SURNAMES)}"
        users.append(
            make_user(
                f"p{i:03d}",
                rng.choice(["MAIN", "MAIN", "MAIN", "OTHER"]),
                identifiers=[("BARCODE", f"39{i:04d}")],
                first_name=rng.choice(FIRST),
                last_name=last if rng.random() < 0.95 else None,
                job_category=rng.choice(["Librarian", "Smith", None]),
                source_institution_code=rng.choice(["SIS", None]),
                source_link_id=str(i % 3),
                last_modified_date=datetime(2024, 1, 1 + i % 28, 12, tzinfo=UTC),
            )
        )
    add(engine, *users)
    return engine


QUERIES = [
    "last_name~smith",
    "last_name~smi*",
    "last_name~smith jones",
    "last_name~smith AND first_name~ann",
    "last_name~zzz",
    "ALL~smith",
    "general_info~smith",
    "first_name~smith",
    "last_name~m*",
    "last_name~müller",
    "primary_id~p00*",
    "ALL~smi*",
    "general_info~smi* AND last_name~jones",
    "last_name~smi* AND first_name~a*",
    "",
]


@pytest.mark.parametrize("query", QUERIES)
def test_search_answers_as_before(many: Engine, query: str) -> None:
    conditions = parse_q(query)
    searches = [
        UserSearch("MAIN", conditions, limit=10),
        UserSearch("MAIN", conditions, limit=7, offset=5),
        UserSearch("MAIN", conditions, limit=100, order_by="last_name"),
        UserSearch("MAIN", conditions, limit=4, offset=3, order_by="first_name"),
        UserSearch("MAIN", conditions, limit=100, order_by="primary_id"),
        UserSearch("MAIN", conditions, limit=0),
        UserSearch("MAIN", conditions, limit=10, offset=1000),
        UserSearch("OTHER", conditions, limit=100),
        UserSearch("MAIN", conditions, limit=100, modified_from=date(2024, 1, 15)),
        UserSearch("MAIN", conditions, limit=100, source_institution_code="SIS"),
        UserSearch(
            "MAIN", conditions, limit=100, source_institution_code="SIS", source_user_id="1"
        ),
    ]
    for search in searches:
        expected_ids, expected_total = reference_search(many, search)
        with SqlUnitOfWork(many, read_only=True) as uow:
            result = uow.users.search(search)
        assert result.total == expected_total, search
        assert [u.primary_id for u in result.users] == expected_ids, search
        assert all(u.institution == search.institution for u in result.users)


def test_search_with_a_condition_without_terms(many: Engine) -> None:
    search = UserSearch("MAIN", (Condition(("last_name",), ()),), limit=100)
    expected_ids, expected_total = reference_search(many, search)
    with SqlUnitOfWork(many, read_only=True) as uow:
        result = uow.users.search(search)
    assert (result.total, [u.primary_id for u in result.users]) == (
        expected_total,
        expected_ids,
    )


# -- services: read-only units, code book without a unit ---------------------------------


class CountingFactory:
    def __init__(self, engine: Engine, read_only: bool) -> None:
        self.engine = engine
        self.read_only = read_only
        self.opened = 0

    def __call__(self) -> SqlUnitOfWork:
        self.opened += 1
        return SqlUnitOfWork(self.engine, read_only=self.read_only)


class NoHasher:
    def hash(self, password: str) -> str:
        return "x"

    def verify(self, stored_hash: str, password: str) -> bool:
        return False


def seeded(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.institutions.add(Institution("MAIN", "Main"))
        uow.codes.seed("MAIN")
        uow.commit()


def test_user_service_reads_through_read_only_units(engine: Engine) -> None:
    seeded(engine)
    writes, reads = CountingFactory(engine, False), CountingFactory(engine, True)
    service = UserService(writes, NoHasher(), CodeBookCache(ttl=60), read_uow_factory=reads)
    add(engine, make_user("someone", last_name="Okafor"))
    service.code_book("MAIN")
    assert (writes.opened, reads.opened) == (0, 1)
    for _ in range(3):
        service.code_book("MAIN")  # fresh in the cache: no unit of work at all
    assert reads.opened == 1
    assert service.get("MAIN", "someone").primary_id == "someone"
    assert service.search(UserSearch("MAIN", parse_q("last_name~okafor"))).total == 1
    assert (writes.opened, reads.opened) == (0, 3)


def test_user_service_read_factory_defaults_to_the_write_factory(engine: Engine) -> None:
    seeded(engine)
    writes = CountingFactory(engine, False)
    service = UserService(writes, NoHasher(), CodeBookCache(ttl=0))
    add(engine, make_user("someone"))
    service.get("MAIN", "someone")
    service.code_book("MAIN")
    service.code_book("MAIN")  # ttl 0: reloaded each time
    assert writes.opened == 3


def test_key_lookup_uses_the_read_factory(engine: Engine) -> None:
    writes, reads = CountingFactory(engine, False), CountingFactory(engine, True)

    class Counter:
        def hit(self, key: str, second: int, amount: int = 1) -> int:
            return 1

    keys = KeyService(writes, Counter(), 60, reads)
    key, secret = keys.create("MAIN", "k", {})
    assert keys.authenticate(secret).key_id == key.key_id
    assert keys.authenticate(secret).key_id == key.key_id  # cached
    # one write unit for the key, one for its first use (the next within a minute: none)
    assert (writes.opened, reads.opened) == (2, 1)
    assert not key.allows(Area.USERS, False)
