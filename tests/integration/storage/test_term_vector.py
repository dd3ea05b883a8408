"""The search terms on the user row (``storage/term_vector.py``, migration 0020): on
PostgreSQL every writer stores them in ``users.search_terms`` and keeps only the names' rows in
``user_terms``; SQLite keeps every term as a row. The migration fills the column from the rows
and its downgrade writes them back; terms holding the query language's own characters are
found as themselves."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from bookplate.storage import tables as t
from bookplate.storage.bulk import bulk_insert_users
from bookplate.storage.documents import stored_user
from bookplate.storage.engine import make_engine
from bookplate.storage.migrate import alembic_config, check_models_match, upgrade
from bookplate.storage.migrations import versions as migrations
from bookplate.storage.reindex import reindex_users
from bookplate.storage.rows import ORDERED_TERM_FIELDS, term_pairs, term_rows
from bookplate.storage.sis_repo import SqlSisStore
from bookplate.storage.term_vector import (
    FIELD_CODES,
    SEPARATOR,
    lexemes,
    on_vector,
    tsquery_text,
)
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.errors import InvalidParameter
from bookplate.users.model import Note
from bookplate.users.queries import SEARCH_FIELDS, Condition, Term, UserSearch, parse_q

from ..conftest import POSTGRES_ENV
from .builders import make_user, rich_user
from .test_read_paths import reference_search


def test_every_search_field_has_its_own_letter_as_the_migration_wrote_them() -> None:
    assert set(FIELD_CODES) == {*SEARCH_FIELDS, "role_type"}
    assert len(set(FIELD_CODES.values())) == len(FIELD_CODES)
    assert all(len(code) == 1 and code != SEPARATOR for code in FIELD_CODES.values())
    path = Path(migrations.__file__).parent / "0020_search_terms.py"
    spec = importlib.util.spec_from_file_location("migration_0020", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration._CODES == FIELD_CODES  # stored data depends on them: never changed
    assert lexemes({("note_text", "a:b"), ("later_field", "x")}) == ["later_field:x", "n:a:b"]


def stored(engine: Engine) -> tuple[dict[int, Any], set[tuple[Any, ...]], dict[int, Any]]:
    """(pk → search_terms, the user_terms rows, pk → the stored user)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.users.c.id, t.users.c.institution, t.users.c.record, t.users.c.search_terms)
        ).all()
        terms = set(conn.execute(select(t.user_terms)).all())
    return (
        {pk: vector for pk, _i, _r, vector in rows},
        terms,
        {pk: stored_user(inst, record) for pk, inst, record, _v in rows},
    )


def assert_terms_as_the_documents_say(engine: Engine) -> None:
    vectors, terms, users = stored(engine)
    vector = on_vector(engine.dialect)
    expected_rows = {
        (pk, user.institution, f, v, k)
        for pk, user in users.items()
        for f, v, k in term_rows(user, vector=vector)
    }
    assert terms == expected_rows
    for pk, user in users.items():
        assert vectors[pk] == (lexemes(term_pairs(user)) if vector else None), user.primary_id
    if vector:
        assert {row[2] for row in terms} <= ORDERED_TERM_FIELDS


def test_every_writer_stores_the_terms_where_its_database_keeps_them(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(rich_user("jdoe"), None)
        uow.users.add(make_user("plain", last_name="Plain", job_category="Clerk"), None)
        uow.commit()
    with SqlUnitOfWork(engine, single_write=True) as uow:
        uow.users.add(make_user("single", identifiers=[("BARCODE", "S1")], first_name="Sol"), None)
        uow.commit()
    bulk_insert_users(engine, [make_user(f"bulk{i}", last_name=f"Bulk{i}") for i in range(3)])
    store = SqlSisStore(engine)
    with store.batch() as batch:
        pks = batch.create([(make_user("sis", last_name="Sis", user_group="GRAD"), "fp")])
        batch.commit()
    assert_terms_as_the_documents_say(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.users.replace(
            "plain", make_user("plain", last_name="Changed", notes=[Note(note_text="hi")]), None
        )
        uow.commit()
    with store.batch() as batch:
        batch.update([(pks[0], make_user("sis", last_name="Sis", user_group="STAFF"), "fp2")])
        batch.commit()
    assert_terms_as_the_documents_say(engine)
    with engine.begin() as conn:
        conn.execute(t.users.update().values(search_terms=None))
        conn.execute(t.user_terms.delete())
    reindex_users(engine)
    assert_terms_as_the_documents_say(engine)
    found = UserSearch("MAIN", parse_q("user_group~staff"), limit=10)
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert [u.primary_id for u in uow.users.search(found).users] == ["sis"]


def test_the_migration_moves_the_terms_and_its_downgrade_moves_them_back(
    database_url: str,
) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            uow.users.add(rich_user("jdoe"), None)
            uow.users.add(make_user("o'neil", last_name="O'Neil", job_category="a:b"), None)
            uow.users.add(make_user("bare"), None)
            uow.commit()
        vectors, terms, users = stored(engine)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0018_network_zone")
        with engine.connect() as conn:
            rows = set(conn.execute(text("SELECT * FROM user_terms")).all())
            columns = conn.execute(text("SELECT * FROM users LIMIT 0")).keys()
        assert "search_terms" not in columns
        # Every term a row again, as every writer wrote them before 0020.
        assert rows == {
            (pk, user.institution, f, v, k)
            for pk, user in users.items()
            for f, v, k in term_rows(user, vector=False)
        }
        upgrade(engine)
        assert stored(engine)[:2] == (vectors, terms)
        assert check_models_match(engine) == []
        assert_terms_as_the_documents_say(engine)
    finally:
        engine.dispose()


# Values holding what the tsquery syntax reads (quotes, backslashes, operators, the ':' of
# field:term, the prefix mark), spaces and accents.
NASTY = ["o'brien", "a\\b", "x:y", "a&b|c", "!(z)", "p:*", "it's a\\'trap", "é ü", "<->", "''"]


@pytest.fixture
def nasty(engine: Engine) -> Engine:
    with SqlUnitOfWork(engine) as uow:
        for i, value in enumerate(NASTY):
            uow.users.add(
                make_user(
                    f"n{i}",
                    identifiers=[("BARCODE", value)],
                    last_name=value,
                    job_category=value,
                ),
                None,
            )
        uow.commit()
    return engine


@pytest.mark.parametrize("value", NASTY)
def test_terms_with_query_syntax_are_found_as_themselves(nasty: Engine, value: str) -> None:
    for query in (
        f"identifiers~{value}",
        f"job_category~{value}",
        f"ALL~{value}",
        f"general_info~{value}",
        f"identifiers~{value}*",
        f"last_name~{value} AND job_category~{value}",
    ):
        try:
            conditions = parse_q(query)
        except InvalidParameter:
            continue  # refused by the q language itself (no term left): not storage's to test
        search = UserSearch("MAIN", conditions, limit=100)
        with SqlUnitOfWork(nasty, read_only=True) as uow:
            result = uow.users.search(search)
        assert ([u.primary_id for u in result.users], result.total) == reference_search(
            nasty, search
        ), query


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
@settings(max_examples=150)
@given(
    term=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
    ),
    prefix=st.booleans(),
)
def test_any_term_is_one_lexeme_of_the_query(pg: Engine, term: str, prefix: bool) -> None:
    """Whatever a term holds, the query text is one lexeme per field (never syntax), found
    in a vector holding it, and a prefix only matches what starts with it."""
    query = tsquery_text([Condition(("note_text", "email"), (Term(term, prefix),))])
    with pg.connect() as conn:
        hit, miss, longer = conn.execute(
            text(
                "SELECT array_to_tsvector(ARRAY[:a]) @@ CAST(:q AS tsquery),"
                " array_to_tsvector(ARRAY[:b]) @@ CAST(:q AS tsquery),"
                " array_to_tsvector(ARRAY[:c]) @@ CAST(:q AS tsquery)"
            ),
            {"a": f"e:{term}", "b": f"j:{term}", "c": f"n:{term}x", "q": query},
        ).one()
    assert (hit, miss, longer) == (True, False, prefix)
