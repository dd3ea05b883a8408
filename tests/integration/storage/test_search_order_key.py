"""The default search order carried by the name terms (``user_terms.order_key``, migration
0007): the key sorts like the sort columns, every writer stores it, the migration computes the
same key for existing rows, and searches read their page from it with the same answers as
the sort on ``users``."""

from __future__ import annotations

import itertools
import random
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, inspect, select

from bookplate.storage import tables as t
from bookplate.storage.bulk import bulk_insert_users
from bookplate.storage.documents import user_from_document
from bookplate.storage.engine import make_engine
from bookplate.storage.migrate import alembic_config, check_models_match, upgrade
from bookplate.storage.rows import (
    ORDERED_TERM_FIELDS,
    order_key,
    sort_key,
    term_pairs,
    term_rows,
    user_order_key,
    user_row,
)
from bookplate.storage.sis_repo import SqlSisStore
from bookplate.storage.term_vector import on_vector
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.storage.user_search import needs_vector
from bookplate.users.model import User
from bookplate.users.queries import UserSearch, parse_q

from .builders import make_user
from .test_read_paths import reference_search

# -- the key ------------------------------------------------------------------------------


def test_order_key_sorts_like_the_tuple() -> None:
    rng = random.Random(3)
    alphabet = ["\x01", "\x02", "\x01\x01", " ", "a", "b", "é", "-", ""]
    tuples = {
        tuple("".join(rng.choice(alphabet) for _ in range(rng.randrange(4))) for _ in range(3))
        for _ in range(3000)
    }
    by_tuple = sorted(tuples)
    assert sorted(tuples, key=lambda parts: order_key(*parts)) == by_tuple
    assert len({order_key(*parts) for parts in tuples}) == len(tuples)  # one key per tuple


def test_order_key_of_a_part_and_its_extension() -> None:
    assert order_key("smith", "ann", "p1") < order_key("smith", "ann", "p10")
    assert order_key("smith", "", "p9") < order_key("smith", "a", "p1")
    assert order_key("smith", "zed", "p1") < order_key("smith-jones", "ann", "p1")
    assert order_key("a\x01", "b", "c") > order_key("a", "\x01", "c")


def test_term_rows_carry_the_key_on_name_fields_only() -> None:
    user = make_user(
        "Pid-1",
        identifiers=[("BARCODE", "B1")],
        first_name="Ann Marie",
        middle_name="Q",
        pref_last_name="Okafor",
        job_category="Librarian",
    )
    rows = term_rows(user)
    assert {(f, v) for f, v, _ in rows} == term_pairs(user)
    key = order_key("okafor", "ann marie", "pid-1")
    assert user_order_key(user) == key
    assert {k for f, _, k in rows if f in ORDERED_TERM_FIELDS} == {key}
    assert {k for f, _, k in rows if f not in ORDERED_TERM_FIELDS} == {None}
    row = user_row(user, None)
    assert key == order_key(row["last_name_sort"], row["first_name_sort"], row["primary_id_norm"])
    assert term_rows(user, "given") == [(f, v, "given" if k else None) for f, v, k in rows]


# -- the writers --------------------------------------------------------------------------


def stored_keys(engine: Engine) -> dict[tuple[int, str, str], str | None]:
    terms = t.user_terms
    with engine.connect() as conn:
        rows = conn.execute(select(terms.c.user_pk, terms.c.field, terms.c.term, terms.c.order_key))
        return {(pk, f, v): k for pk, f, v, k in rows}


def expected_keys(engine: Engine) -> dict[tuple[int, str, str], str | None]:
    """The keys ``term_rows`` gives for the users as stored now (on PostgreSQL the names'
    rows only: ``term_vector``)."""
    out: dict[tuple[int, str, str], str | None] = {}
    vector = on_vector(engine.dialect)
    with engine.connect() as conn:
        for pk, record in conn.execute(select(t.users.c.id, t.users.c.record)):
            for f, v, k in term_rows(user_from_document(record), vector=vector):
                out[(pk, f, v)] = k
    return out


NAMES: list[dict[str, Any]] = [
    {"first_name": "Ann", "last_name": "Smith"},
    {"first_name": "Bob", "last_name": "Smith-Jones", "middle_name": "Smith"},
    {"first_name": "Zoë", "last_name": "Müller"},
    {"pref_first_name": "Cy", "pref_last_name": "Smith"},
    {"first_name": "Smith"},
    {"first_name": "Dee\x01", "last_name": "Smith\x01x"},  # the repository does not validate
    {"first_name": " Eve ", "last_name": "SMITH"},
]


def test_every_writer_stores_the_key(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        for i, names in enumerate(NAMES):
            uow.users.add(make_user(f"add{i}", identifiers=[("BARCODE", f"A{i}")], **names), None)
        uow.commit()
    bulk_insert_users(engine, [make_user(f"bulk{i}", **n) for i, n in enumerate(NAMES)])
    store = SqlSisStore(engine)
    with store.batch() as batch:
        pks = batch.create([(make_user(f"sis{i}", **n), f"fp{i}") for i, n in enumerate(NAMES)])
        batch.commit()
    assert stored_keys(engine) == expected_keys(engine)
    # A rename (and a new primary ID) moves the user in the order.
    with SqlUnitOfWork(engine) as uow:
        uow.users.replace("add0", make_user("ADD0-NEW", first_name="Al", last_name="Zeta"), None)
        uow.commit()
    with store.batch() as batch:
        batch.update([(pks[1], make_user("sis1", first_name="Bo", last_name="Aaron"), "fp")])
        batch.commit()
    keys = stored_keys(engine)
    assert keys == expected_keys(engine)
    assert order_key("zeta", "al", "add0-new") in keys.values()
    assert order_key("aaron", "bo", "sis1") in keys.values()
    names = ["smith", "smi*", "aaron", "zeta", "muller", "smith x", "dee"]
    for q in names:
        for name_field in ("last_name", "first_name", "general_info"):
            search = UserSearch("MAIN", parse_q(f"{name_field}~{q}"), limit=100)
            with SqlUnitOfWork(engine, read_only=True) as uow:
                result = uow.users.search(search)
            assert ([u.primary_id for u in result.users], result.total) == reference_search(
                engine, search
            ), search


# -- the migration ------------------------------------------------------------------------


def test_migration_computes_the_keys_python_writes(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            for i, names in enumerate(NAMES * 3):
                uow.users.add(make_user(f"m{i:02d}", **names), None)
            uow.commit()
        written = stored_keys(engine)
        assert sum(k is not None for k in written.values()) > len(NAMES)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006_auth_profiles")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("user_terms")}
        assert "order_key" not in columns
        upgrade(engine)
        assert stored_keys(engine) == written
        assert check_models_match(engine) == []
    finally:
        engine.dispose()


# -- the searches -------------------------------------------------------------------------


@pytest.fixture
def namesakes(engine: Engine) -> Engine:
    """Many users sharing last names, first names and words, so that ties decide."""
    rng = random.Random(11)
    lasts = ["Smith", "Smith-Lee", "Lee", "Lee Smith", "Ng", "Smithers", "Öztürk"]
    firsts = ["Ann", "Ann Lee", "Bo", "Smith", "", "Zed"]
    users: list[User] = []
    for i in range(150):
        last = rng.choice(lasts)
        fields: dict[str, Any] = {"first_name": rng.choice(firsts) or None}
        if rng.random() < 0.1:
            fields["pref_last_name"] = last
        elif rng.random() < 0.95:
            fields["last_name"] = last
        if rng.random() < 0.3:
            fields["middle_name"] = rng.choice(lasts)
        users.append(
            make_user(
                f"{rng.choice(['p', 'P', 'q'])}{i:03d}",
                rng.choice(["MAIN", "MAIN", "OTHER"]),
                user_group=rng.choice(["GRAD", "STAFF"]),
                **fields,
            )
        )
    with SqlUnitOfWork(engine) as uow:
        for user in users:
            uow.users.add(user, None)
        uow.commit()
    return engine


ORDERED_QUERIES = [
    "last_name~smith",
    "last_name~lee",
    "last_name~smi*",
    "last_name~smith lee",
    "last_name~smith AND first_name~ann",
    "last_name~lee AND middle_name~smith",
    "first_name~ann",
    "first_name~a*",
    "middle_name~ng",
    "last_name~öztürk",
    "last_name~nobody",
    "last_name~smith AND last_name~nobody",
    # fields without keys too: their matches take the key computed from users
    "general_info~smith",
    "general_info~grad",
    "ALL~smi*",
    "ALL~p00*",
    "general_info~lee smith",
    "general_info~ann AND last_name~lee",
]


@pytest.mark.parametrize("query", ORDERED_QUERIES)
def test_ordered_searches_answer_as_the_sort_on_users(namesakes: Engine, query: str) -> None:
    conditions = parse_q(query)
    pages = [(10, 0), (7, 5), (3, 0), (100, 0), (5, 40), (10, 1000), (0, 0), (1, 0)]
    for institution, (limit, offset) in itertools.product(["MAIN", "OTHER"], pages):
        search = UserSearch(institution, conditions, limit=limit, offset=offset)
        with SqlUnitOfWork(namesakes, read_only=True) as uow:
            result = uow.users.search(search)
        expected = reference_search(namesakes, search)
        assert ([u.primary_id for u in result.users], result.total) == expected, search
        assert all(u.institution == institution for u in result.users)


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.sent: list[str] = []
        self.engine = engine

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sent.append(statement)


@pytest.mark.parametrize(
    ("query", "order_by", "ordered"),
    [
        ("last_name~smith", None, True),
        ("first_name~a*", None, True),
        ("last_name~s* AND first_name~ann", None, True),
        ("last_name~smith", "last_name", False),
        ("last_name~smith", "primary_id", False),
        ("general_info~smith", None, True),  # with fields without keys
        ("ALL~grad", None, True),
        ("general_info~ann AND user_group~grad", None, False),  # a condition without keys
        ("user_group~grad", None, False),
    ],
)
def test_which_searches_read_the_order_from_the_terms(
    namesakes: Engine, query: str, order_by: str | None, ordered: bool
) -> None:
    search = UserSearch("MAIN", parse_q(query), order_by=order_by, limit=5)
    with Statements(namesakes) as seen, SqlUnitOfWork(namesakes, read_only=True) as uow:
        result = uow.users.search(search)
    assert result.users and ([u.primary_id for u in result.users], result.total) == (
        reference_search(namesakes, search)
    )
    page = [s for s in seen.sent if "record" in s]
    assert len(page) == 1
    # PostgreSQL keeps only the names' term rows: a condition on another field goes through
    # users.search_terms and sorts on users (term_vector).
    if on_vector(namesakes.dialect) and needs_vector(search.conditions):
        ordered = False
    assert page[0].endswith("ORDER BY page.order_key") is ordered


def test_other_filters_keep_the_sort_on_users(namesakes: Engine) -> None:
    search = UserSearch("MAIN", parse_q("last_name~smith"), modified_from=date(2024, 1, 1), limit=5)
    with Statements(namesakes) as seen, SqlUnitOfWork(namesakes, read_only=True) as uow:
        result = uow.users.search(search)
    assert ([u.primary_id for u in result.users], result.total) == reference_search(
        namesakes, search
    )
    assert not any("order_key" in s for s in seen.sent)


def test_sort_key_is_what_the_key_is_built_from() -> None:
    assert sort_key("  Öztürk ") == "ozturk"


@pytest.mark.parametrize(
    ("limit", "offset", "statements"),
    [(10, 0, 1), (3, 2, 1), (10, 10_000, 2), (0, 0, 1)],
)
def test_one_word_in_one_name_field_is_one_statement(
    namesakes: Engine, limit: int, offset: int, statements: int
) -> None:
    """The count rides along with a page that has rows; without rows it is asked alone."""
    search = UserSearch("MAIN", parse_q("last_name~smith"), limit=limit, offset=offset)
    with Statements(namesakes) as seen, SqlUnitOfWork(namesakes, read_only=True) as uow:
        result = uow.users.search(search)
    assert len([s for s in seen.sent if s.startswith("SELECT")]) == statements
    assert ([u.primary_id for u in result.users], result.total) == reference_search(
        namesakes, search
    )
    assert result.total > 3


def test_one_word_without_matches_counts_zero(namesakes: Engine) -> None:
    for query in ("last_name~nobody", "first_name~smith*x", "middle_name~zed"):
        search = UserSearch("OTHER", parse_q(query), limit=10)
        with SqlUnitOfWork(namesakes, read_only=True) as uow:
            result = uow.users.search(search)
        assert (result.users, result.total) == ([], reference_search(namesakes, search)[1])
