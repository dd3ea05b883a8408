"""``db reindex`` (``storage.reindex``): side rows and derived columns rebuilt from the stored
documents, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from bookplate.storage import tables as t
from bookplate.storage.reindex import ReindexReport, reindex_users
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.queries import UserSearch, parse_q

from .builders import make_user, rich_user


def _add(engine: Engine, count: int = 5) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(rich_user("jdoe"), None)
        for n in range(count):
            uow.users.add(make_user(f"u{n}", identifiers=[("BARCODE", f"B{n}")],
                                    last_name=f"Name{n}", user_group="GRAD"), None)
        uow.commit()


def _state(engine: Engine) -> dict[str, Any]:
    """Everything the reindex rebuilds, comparable."""
    with engine.connect() as conn:
        terms = set(conn.execute(select(t.user_terms)).all())
        idents = set(conn.execute(select(t.user_identifiers)).all())
        cols = [c for c in t.users.c if c.name not in ("record", "password_hash")]
        # search_terms (PostgreSQL: a list) as a tuple, so that the rows compare in a set
        users = {
            tuple(tuple(v) if isinstance(v, list) else v for v in row)
            for row in conn.execute(select(*cols))
        }
    return {"terms": terms, "identifiers": idents, "users": users}


def _found(engine: Engine, query: str) -> list[str]:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        result = uow.users.search(UserSearch("MAIN", parse_q(query), limit=100))
        return [u.primary_id for u in result.users]


def _pk(engine: Engine, primary_id: str) -> int:
    with engine.connect() as conn:
        pk = conn.execute(select(t.users.c.id).where(t.users.c.primary_id == primary_id))
        return int(pk.scalar_one())


def test_wiped_side_rows_and_columns_come_back_and_search_finds_the_user(
    engine: Engine,
) -> None:
    _add(engine)
    before = _state(engine)
    pk = _pk(engine, "jdoe")
    with engine.begin() as conn:
        conn.execute(delete(t.user_terms).where(t.user_terms.c.user_pk == pk))
        conn.execute(delete(t.user_identifiers).where(t.user_identifiers.c.user_pk == pk))
        conn.execute(update(t.users).where(t.users.c.id == pk).values(
            user_group=None, last_name_sort="", status="WRONG", search_terms=None))
    assert _found(engine, "last_name~smith") == []
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.users.find("MAIN", "U123", "UNIV_ID") is None

    report = reindex_users(engine, batch=2)

    assert report.users == 6 and report.unreadable == []
    assert _state(engine) == before
    assert _found(engine, "last_name~smith") == ["jdoe"]
    with SqlUnitOfWork(engine, read_only=True) as uow:
        found = uow.users.find("MAIN", "U123", "UNIV_ID")
        assert found is not None and found.primary_id == "jdoe"


def test_terms_of_a_newly_searchable_field_are_written_for_stored_users(engine: Engine) -> None:
    """A field made searchable after its users were stored: its rows are not there until
    the reindex, which needs no migration of its own."""
    _add(engine)
    with engine.begin() as conn:
        conn.execute(delete(t.user_terms).where(t.user_terms.c.field == "note_text"))
        # PostgreSQL: the terms are on the row (term_vector); the field's are taken off it
        conn.execute(update(t.users).values(search_terms=None))
    assert _found(engine, "note_text~overdue") == []
    reindex_users(engine)
    assert "jdoe" in _found(engine, "note_text~" + _a_note_word(engine))


def _a_note_word(engine: Engine) -> str:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        user = uow.users.find("MAIN", "jdoe")
    assert user is not None and user.notes and user.notes[0].note_text
    return user.notes[0].note_text.split()[0]


def test_a_rerun_changes_nothing(engine: Engine) -> None:
    _add(engine)
    before = _state(engine)
    reindex_users(engine)
    reindex_users(engine, batch=1)
    assert _state(engine) == before


def test_an_interrupted_run_goes_on_from_the_last_key_it_reported(engine: Engine) -> None:
    _add(engine)
    before = _state(engine)
    with engine.begin() as conn:
        conn.execute(delete(t.user_terms))
        conn.execute(update(t.users).values(search_terms=None))
    reported: list[int] = []

    def stop_after_two(report: ReindexReport) -> None:
        reported.append(report.last_key)
        if len(reported) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex_users(engine, batch=2, progress=stop_after_two)
    assert _state(engine) != before  # the last two batches were not done
    report = reindex_users(engine, batch=2, start_after=reported[-1])
    assert report.users == 2
    assert _state(engine) == before


def test_an_unreadable_record_is_reported_and_left_alone(engine: Engine) -> None:
    _add(engine)
    pk = _pk(engine, "u1")
    with engine.begin() as conn:
        conn.execute(update(t.users).where(t.users.c.id == pk).values(
            record={"primary_id": "u1", "identifiers": 5}))
        rows_before = set(conn.execute(
            select(t.user_terms).where(t.user_terms.c.user_pk == pk)).all())
    report = reindex_users(engine)
    assert report.unreadable == [pk]
    assert report.users == 5
    with engine.connect() as conn:
        rows = set(conn.execute(select(t.user_terms).where(t.user_terms.c.user_pk == pk)).all())
    assert rows == rows_before


def test_a_batch_size_below_one_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="batch"):
        reindex_users(engine, batch=0)
