"""Creating a user: on PostgreSQL one statement (``storage.user_insert``) writes the user, its
side rows and the audit row; ``SqlUnitOfWork(single_write=True)`` runs it without a
transaction around it and refuses any other write."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, Table, event, func, select, text

from bookplate.network.model import IdScope, Institution
from bookplate.storage import tables as t
from bookplate.storage.engine import SingleWriteViolation
from bookplate.storage.rows import (
    ORDERED_TERM_FIELDS,
    id_entries,
    identifier_pairs,
    term_pairs,
    term_rows,
    user_row,
    utc,
)
from bookplate.storage.term_vector import lexemes, on_vector
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User
from bookplate.users.queries import UserSearch, parse_q

from .builders import make_user, rich_user


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def counts(engine: Engine) -> tuple[int, ...]:
    tables = (t.users, t.user_ids, t.user_identifiers, t.user_terms, t.audit_log)
    return tuple(count(engine, table) for table in tables)


def single_add(engine: Engine, user: User, password_hash: str | None = None) -> None:
    with SqlUnitOfWork(engine, single_write=True) as uow:
        uow.users.add(user, password_hash)
        uow.commit()


@pytest.fixture(params=["transaction", "single_write"])
def unit(request: pytest.FixtureRequest, engine: Engine) -> Callable[[], SqlUnitOfWork]:
    single = request.param == "single_write"
    return lambda: SqlUnitOfWork(engine, single_write=single)


def stored_rows(engine: Engine, primary_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.primary_id == primary_id)).one()
        pk = row.id
        ids = conn.execute(
            select(t.user_ids.c.scope, t.user_ids.c.value_norm, t.user_ids.c.id_type).where(
                t.user_ids.c.user_pk == pk
            )
        ).all()
        idents = conn.execute(
            select(t.user_identifiers.c.id_type, t.user_identifiers.c.value_norm).where(
                t.user_identifiers.c.user_pk == pk
            )
        ).all()
        terms = conn.execute(
            select(
                t.user_terms.c.institution,
                t.user_terms.c.field,
                t.user_terms.c.term,
                t.user_terms.c.order_key,
            ).where(t.user_terms.c.user_pk == pk)
        ).all()
        audit = conn.execute(
            select(t.audit_log.c.institution, t.audit_log.c.actor, t.audit_log.c.action).where(
                t.audit_log.c.target == primary_id
            )
        ).all()
    return {
        "user": row._asdict(),
        "ids": set(ids),
        "identifiers": set(idents),
        "terms": set(terms),
        "audit": audit,
    }


def test_rows_written_are_those_of_the_row_functions(
    engine: Engine, unit: Callable[[], SqlUnitOfWork]
) -> None:
    user = rich_user("Jane.Doe")
    with unit() as uow:
        uow.users.add(user, "hash!")
        uow.commit()
    got = stored_rows(engine, "Jane.Doe")
    vector = on_vector(engine.dialect)  # PostgreSQL: the terms on the row (term_vector)
    expected = user_row(user, "hash!", vector=vector)
    for name, value in expected.items():
        stored = got["user"][name]
        if isinstance(stored, datetime):  # SQLite gives naive UTC datetimes back
            stored = utc(stored)
        assert stored == value, name
    assert got["ids"] == {("*", norm, id_type) for norm, _raw, id_type in id_entries(user)}
    assert got["identifiers"] == identifier_pairs(user)
    assert got["terms"] == {("MAIN", f, v, k) for f, v, k in term_rows(user, vector=vector)}
    if vector:
        assert got["user"]["search_terms"] == lexemes(term_pairs(user))
        assert {f for _i, f, _v, _k in got["terms"]} == set(ORDERED_TERM_FIELDS)
    assert got["audit"] == [("MAIN", "tester", "user.add")]
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.users.find("MAIN", "u123") == user
        assert uow.users.find("MAIN", "b-0001", "BARCODE") == user
        found = uow.users.search(UserSearch("MAIN", parse_q("last_name~doe")))
        assert [u.primary_id for u in found.users] == ["Jane.Doe"]


def test_institution_scope_is_read_by_the_statement(
    engine: Engine, unit: Callable[[], SqlUnitOfWork]
) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.institutions.add(Institution("A", "Alpha"))
        uow.institutions.add(Institution("B", "Beta"))
        uow.institutions.set_id_scope(IdScope.INSTITUTION)
        uow.commit()
    for institution in ("A", "B"):
        with unit() as uow:
            uow.users.add(make_user("shared", institution, [("BARCODE", "S-1")]), None)
            uow.commit()
    with engine.connect() as conn:
        scopes = conn.execute(select(t.user_ids.c.scope, t.user_ids.c.value_norm)).all()
    assert sorted(scopes) == [("A", "s-1"), ("A", "shared"), ("B", "s-1"), ("B", "shared")]
    with unit() as uow, pytest.raises(DuplicateId) as err:
        uow.users.add(make_user("other", "B", [("UNIV_ID", "s-1")]), None)
    assert (err.value.value, err.value.id_type) == ("s-1", "UNIV_ID")


def test_a_clash_names_the_value_and_leaves_nothing(
    engine: Engine, unit: Callable[[], SqlUnitOfWork]
) -> None:
    single_add(engine, make_user("taken", identifiers=[("BARCODE", "B-1")]))
    before = counts(engine)
    for user, value, id_type in [
        (make_user("TAKEN"), "TAKEN", "primary_id"),
        (make_user("fresh", identifiers=[("UNIV_ID", "b-1")]), "b-1", "UNIV_ID"),
        (make_user("B-1", last_name="Okafor"), "B-1", "primary_id"),
    ]:
        with unit() as uow:
            with pytest.raises(DuplicateId) as err:
                uow.users.add(user, None)
            uow.commit()
        assert (err.value.value, err.value.id_type) == (value, id_type)
    assert counts(engine) == before


def test_single_write_unit_refuses_every_other_write(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("on SQLite a single-write unit is an ordinary transaction")
    single_add(engine, make_user("first", last_name="Okafor"))
    before = counts(engine)
    with SqlUnitOfWork(engine, single_write=True) as uow:
        with pytest.raises(SingleWriteViolation):
            uow.users.replace("first", make_user("first", last_name="Changed"), None)
        with pytest.raises(SingleWriteViolation):
            uow.users.remove("MAIN", "first")
        with pytest.raises(SingleWriteViolation):
            uow.institutions.add(Institution("X", "Xenia"))
        with pytest.raises(SingleWriteViolation):
            uow.connection.execute(text("DELETE FROM users"))
        assert uow.users.find("MAIN", "first") is not None  # reads are allowed
        uow.commit()
    assert counts(engine) == before
    with SqlUnitOfWork(engine, single_write=True) as uow:
        uow.users.add(make_user("second"), None)
        with pytest.raises(SingleWriteViolation):
            uow.users.add(make_user("third"), None)
        uow.commit()
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.users.find("MAIN", "second") is not None
        assert uow.users.find("MAIN", "third") is None


def test_single_write_create_on_postgresql_is_one_statement(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement create is PostgreSQL's")
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with SqlUnitOfWork(engine, single_write=True) as uow:
            uow.users.add(rich_user(), None)
            dbapi = uow.connection.connection.dbapi_connection
            assert dbapi is not None and dbapi.info.transaction_status == 0  # no BEGIN
            uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sent == ["WITH"]


def test_single_write_cannot_be_read_only() -> None:
    with pytest.raises(ValueError, match="not both"):
        SqlUnitOfWork(None, read_only=True, single_write=True)  # type: ignore[arg-type]


def _race(engine: Engine, single: bool, users: list[User]) -> Iterator[BaseException | None]:
    """On SQLite a unit takes the write lock when it starts: the writers meet before that."""
    barrier = threading.Barrier(len(users), timeout=30)
    sqlite = engine.dialect.name == "sqlite"
    results: list[BaseException | None] = [None] * len(users)

    def work(i: int) -> None:
        try:
            if sqlite:
                barrier.wait()
            with SqlUnitOfWork(engine, single_write=single) as uow:
                if not sqlite:
                    barrier.wait()
                uow.users.add(users[i], None)
                uow.commit()
        except BaseException as error:
            results[i] = error

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return iter(results)


@pytest.mark.parametrize("single", [True, False])
@pytest.mark.parametrize(
    "pair",
    [
        # same primary ID
        (("race", []), ("RACE", [])),
        # each one's barcode is the other's primary ID: the keys are taken in one order, so
        # the loser gets a clash, never a deadlock
        (("x-a", [("BARCODE", "x-b")]), ("x-b", [("BARCODE", "x-a")])),
    ],
)
def test_concurrent_creates_give_one_user_and_one_clash(
    engine: Engine, single: bool, pair: tuple[tuple[str, list[tuple[str, str]]], ...]
) -> None:
    users = [make_user(pid, identifiers=ids) for pid, ids in pair]
    results = list(_race(engine, single, users))
    errors = [r for r in results if r is not None]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DuplicateId)
    assert count(engine, t.users) == 1
    assert count(engine, t.audit_log) == 1
