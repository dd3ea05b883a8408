from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, Table, func, select

from bookplate.network.model import IdScope, Institution
from bookplate.storage import tables as t
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import Identifier

from .builders import make_user, rich_user


def add(engine: Engine, *users: object, password_hash: str | None = None) -> None:
    with SqlUnitOfWork(engine) as uow:
        for user in users:
            uow.users.add(user, password_hash)  # type: ignore[arg-type]
        uow.commit()


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_add_and_find_by_primary_id_case_insensitive(engine: Engine) -> None:
    add(engine, rich_user("JDoe"), password_hash="h1")
    with SqlUnitOfWork(engine, read_only=True) as uow:
        found = uow.users.find("MAIN", " jdoe ")
        assert found == rich_user("JDoe")
        assert uow.users.find("MAIN", "JDOE", "primary_id") == rich_user("JDoe")
        assert uow.users.find("OTHER", "jdoe") is None
        assert uow.users.find("MAIN", "nobody") is None
        assert uow.users.password_hash("MAIN", "jdoe") == "h1"


def test_find_by_identifier(engine: Engine) -> None:
    user = make_user(
        "p1", identifiers=[("BARCODE", "Bar-1"), ("UNIV_ID", "u-9")], linking_id="LINK42"
    )
    add(engine, user)
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "bar-1") == user
        assert uow.users.find("MAIN", "BAR-1", "all_unique") == user
        assert uow.users.find("MAIN", "bar-1", "BARCODE") == user
        assert uow.users.find("MAIN", "bar-1", "UNIV_ID") is None
        assert uow.users.find("MAIN", "U-9", "UNIV_ID") == user
        assert uow.users.find("MAIN", "bar-1", "primary_id") is None
        assert uow.users.find("MAIN", "LINK42", "linking_id") == user
        assert uow.users.find("MAIN", "p1", "linking_id") is None


def test_replace_moves_ids_and_frees_old_ones(engine: Engine) -> None:
    add(engine, make_user("old", identifiers=[("BARCODE", "b1")]), password_hash="keep-me")
    new = make_user("new", identifiers=[("BARCODE", "b2")], last_name="Changed")
    with SqlUnitOfWork(engine) as uow:
        uow.users.replace("OLD", new, None)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "old") is None
        assert uow.users.find("MAIN", "b1") is None
        assert uow.users.find("MAIN", "new") == new
        assert uow.users.find("MAIN", "b2", "BARCODE") == new
        assert uow.users.password_hash("MAIN", "new") == "keep-me"
        # the old values are free again
        uow.users.add(make_user("old", identifiers=[("BARCODE", "b1")]), None)
        uow.users.replace("new", new, "changed-hash")
        assert uow.users.password_hash("MAIN", "new") == "changed-hash"
        uow.commit()
    assert count(engine, t.users) == 2
    assert count(engine, t.user_ids) == 4


def test_replace_unknown_user(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow, pytest.raises(UserNotFound):
        uow.users.replace("ghost", make_user("ghost"), None)


def test_remove(engine: Engine) -> None:
    add(engine, rich_user("gone"), make_user("stays"))
    with SqlUnitOfWork(engine) as uow:
        uow.users.remove("MAIN", "GONE")
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "gone") is None
        assert uow.users.find("MAIN", "b-0001") is None
        assert uow.users.find("MAIN", "stays") is not None
        with pytest.raises(UserNotFound):
            uow.users.remove("MAIN", "gone")
    assert count(engine, t.users) == 1
    assert count(engine, t.user_ids) == 1
    assert count(engine, t.user_identifiers) == 0
    with engine.connect() as conn:
        actions = conn.execute(select(t.audit_log.c.action).order_by(t.audit_log.c.id))
        assert list(actions.scalars()) == ["user.add", "user.add", "user.remove"]


def test_duplicate_on_create_names_the_value(engine: Engine) -> None:
    add(engine, make_user("taken", identifiers=[("BARCODE", "B-1")]))
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(DuplicateId) as err:
            uow.users.add(make_user("TAKEN"), None)
        assert (err.value.value, err.value.id_type) == ("TAKEN", "primary_id")
        with pytest.raises(DuplicateId) as err:
            uow.users.add(make_user("fresh", identifiers=[("UNIV_ID", "b-1")]), None)
        assert (err.value.value, err.value.id_type) == ("b-1", "UNIV_ID")
        # a primary ID equal to another user's identifier clashes too (all_unique namespace)
        with pytest.raises(DuplicateId) as err:
            uow.users.add(make_user("B-1"), None)
        assert err.value.value == "B-1"
        # the transaction is still usable after the clash
        uow.users.add(make_user("fine"), None)
        uow.commit()
    assert count(engine, t.users) == 2


def test_duplicate_on_replace_keeps_the_stored_record(engine: Engine) -> None:
    a = make_user("a", identifiers=[("BARCODE", "ba")])
    b = make_user("b", identifiers=[("BARCODE", "bb")])
    add(engine, a, b)
    changed = make_user("b", identifiers=[("BARCODE", "BA")], last_name="X")
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(DuplicateId) as err:
            uow.users.replace("b", changed, None)
        assert (err.value.value, err.value.id_type) == ("BA", "BARCODE")
        with pytest.raises(DuplicateId):
            uow.users.replace("b", make_user("A"), None)
        assert uow.users.find("MAIN", "bb") == b
        # keeping one's own IDs is no clash
        same = make_user("b", identifiers=[("BARCODE", "bb"), ("UNIV_ID", "new")])
        uow.users.replace("B", same, None)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "new") == same


def test_own_identifier_equal_to_primary_id_is_stored_once(engine: Engine) -> None:
    user = make_user("same", identifiers=[("BARCODE", "SAME")])
    add(engine, user)
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "same", "BARCODE") == user


def test_network_scope_forbids_same_id_in_two_institutions(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.institutions.id_scope() is IdScope.NETWORK
    add(engine, make_user("shared", "A"))
    with SqlUnitOfWork(engine) as uow, pytest.raises(DuplicateId):
        uow.users.add(make_user("shared", "B"), None)


def test_institution_scope_allows_same_id_in_two_institutions(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.institutions.add(Institution("A", "Alpha"))
        uow.institutions.add(Institution("B", "Beta"))
        uow.institutions.set_id_scope(IdScope.INSTITUTION)
        uow.commit()
    add(
        engine,
        make_user("shared", "A", first_name="Ann"),
        make_user("shared", "B", first_name="Bob"),
    )
    with SqlUnitOfWork(engine) as uow:
        assert uow.institutions.id_scope() is IdScope.INSTITUTION
        assert [i.code for i in uow.institutions.list()] == ["A", "B"]
        assert uow.institutions.get("B") == Institution("B", "Beta")
        assert uow.institutions.get("C") is None
        found_a, found_b = uow.users.find("A", "shared"), uow.users.find("B", "shared")
        assert found_a is not None and found_a.first_name == "Ann"
        assert found_b is not None and found_b.first_name == "Bob"
        with pytest.raises(DuplicateId):
            uow.users.add(make_user("SHARED", "A"), None)
        # going back to network-wide IDs is refused while the clash exists
        with pytest.raises(DuplicateId) as err:
            uow.institutions.set_id_scope(IdScope.NETWORK)
        assert err.value.value == "shared"
        assert uow.institutions.id_scope() is IdScope.INSTITUTION
        uow.users.remove("B", "shared")
        uow.institutions.set_id_scope(IdScope.NETWORK)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.institutions.id_scope() is IdScope.NETWORK
        assert uow.users.find("A", "shared") is not None
        with pytest.raises(DuplicateId):
            uow.users.add(make_user("shared", "B"), None)


def test_uncommitted_work_is_rolled_back(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(make_user("temp"), None)
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "temp") is None


def _race(engine: Engine, make: Callable[[int], object]) -> list[BaseException | None]:
    """Run two writers at once. On PostgreSQL both transactions are open (after a first
    statement) before either inserts, so the inserts really overlap; on SQLite a writer's
    transaction holds the write lock, so they meet at the barrier just before BEGIN."""
    barrier = threading.Barrier(2, timeout=30)
    sqlite = engine.dialect.name == "sqlite"
    results: list[BaseException | None] = [None, None]

    def work(i: int) -> None:
        try:
            if sqlite:
                barrier.wait()
            with SqlUnitOfWork(engine) as uow:
                uow.institutions.id_scope()  # opens the transaction
                if not sqlite:
                    barrier.wait()
                uow.users.add(make(i), None)  # type: ignore[arg-type]
                uow.commit()
        except BaseException as error:
            results[i] = error

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("clash", ["primary", "identifier"])
def test_two_concurrent_creates_give_one_user(engine: Engine, clash: str) -> None:
    def make(i: int) -> object:
        if clash == "primary":
            return make_user("RACE" if i else "race", first_name=f"n{i}")
        return make_user(f"p{i}", identifiers=[("BARCODE", "SHARED-BARCODE")])

    results = _race(engine, make)
    errors = [r for r in results if r is not None]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DuplicateId)
    assert count(engine, t.users) == 1
    with SqlUnitOfWork(engine) as uow:
        key = "race" if clash == "primary" else "shared-barcode"
        assert uow.users.find("MAIN", key) is not None


def test_identifier_without_value_is_ignored(engine: Engine) -> None:
    user = make_user("p")
    user.identifiers.append(Identifier(id_type="BARCODE", value=None))
    add(engine, user)
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.find("MAIN", "p") == user
