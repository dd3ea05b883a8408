from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.model import Note
from bookplate.users.queries import SEARCH_FIELDS, Condition, Term, UserSearch, parse_q

from .builders import make_user, rich_user


def add(engine: Engine, *users: object) -> None:
    with SqlUnitOfWork(engine) as uow:
        for user in users:
            uow.users.add(user, None)  # type: ignore[arg-type]
        uow.commit()


def ids(engine: Engine, search: UserSearch) -> list[str]:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        return [u.primary_id for u in uow.users.search(search).users]


def q(engine: Engine, query: str, institution: str = "MAIN", **kw: object) -> list[str]:
    return ids(engine, UserSearch(institution, parse_q(query), limit=100, **kw))  # type: ignore[arg-type]


# One query per searchable field that finds rich_user("jdoe") and not the plain user.
FIELD_QUERIES = {
    "primary_id": "primary_id~JDOE",
    "first_name": "first_name~janie",
    "last_name": "last_name~smith",
    "middle_name": "middle_name~Quinn",
    "email": "email~jane.doe@example.org",
    "phone_number": "phone_number~15550109999",
    "job_category": "job_category~librarian",
    "identifiers": "identifiers~u123",
    "birth_date": "birth_date~1990-05-17",
    "user_group": "user_group~grad",
    "campus_code": "campus_code~north",
    "block_type": "block_type~GENERAL",
    "id_type": "id_type~barcode",
    "note_text": "note_text~large print",
    "note_type": "note_type~circulation",
    "statistic_category": "statistic_category~eng",
}


def test_every_search_field_is_covered() -> None:
    assert set(FIELD_QUERIES) == set(SEARCH_FIELDS)


@pytest.fixture
def people(engine: Engine) -> Engine:
    add(
        engine,
        rich_user("jdoe"),
        make_user("plain", first_name="Paul", last_name="Plain", user_group="UNDERGRAD"),
        make_user("other-inst", "OTHER", first_name="Jane", last_name="Doe-Smith"),
    )
    return engine


@pytest.mark.parametrize("field", SEARCH_FIELDS)
def test_search_each_field(people: Engine, field: str) -> None:
    assert q(people, FIELD_QUERIES[field]) == ["jdoe"]


def test_search_and_prefix_and_all(people: Engine) -> None:
    assert q(people, "last_name~doe AND first_name~jane") == ["jdoe"]
    assert q(people, "last_name~doe AND first_name~paul") == []
    assert q(people, "last_name~smi*") == ["jdoe"]
    assert q(people, "last_name~smi") == []
    assert q(people, "first_name~pa*") == ["plain"]
    assert q(people, "primary_id~JD*") == ["jdoe"]
    assert q(people, "email~jane.doe@*") == ["jdoe"]
    assert q(people, "ALL~librarian") == ["jdoe"]
    assert q(people, "general_info~paul") == ["plain"]
    # several words in one value must all match
    assert q(people, "note_text~large_print") == ["jdoe"]
    assert q(people, "note_text~large_paper") == []
    assert q(people, "first_name~jane", institution="OTHER") == ["other-inst"]


def test_source_filters(engine: Engine) -> None:
    add(
        engine,
        make_user("linked", source_institution_code="SRC", source_link_id="99"),
        make_user("local"),
    )
    assert ids(engine, UserSearch("MAIN", source_institution_code="SRC")) == ["linked"]
    assert ids(engine, UserSearch("MAIN", source_institution_code="SRC", source_user_id="98")) == []
    assert ids(engine, UserSearch("MAIN", source_institution_code="SRC", source_user_id="99")) == [
        "linked"
    ]


@pytest.fixture
def crowd(engine: Engine) -> Engine:
    names = [
        ("Zed", "Adams"),
        ("Amy", "Adams"),
        ("Bob", "brown"),
        ("Cat", "Brown"),
        ("Dan", "Émile"),
        ("Amy", "Young"),
        ("Eve", None),
    ]
    add(
        engine,
        *[
            make_user(
                f"u{i:02d}",
                first_name=first,
                last_name=last,
                last_modified_date=datetime(2024, 1, 1 + i, 23, 30, tzinfo=UTC),
            )
            for i, (first, last) in enumerate(names)
        ],
    )
    return engine


def test_default_order(crowd: Engine) -> None:
    # last name, first name, primary ID; case- and accent-folded; no last name first
    assert ids(crowd, UserSearch("MAIN", limit=100)) == [
        "u06",
        "u01",
        "u00",
        "u02",
        "u03",
        "u04",
        "u05",
    ]


def test_order_by_variants(crowd: Engine) -> None:
    assert ids(crowd, UserSearch("MAIN", order_by="last_name", limit=100)) == [
        "u06",
        "u00",
        "u01",
        "u02",
        "u03",
        "u04",
        "u05",
    ]
    assert ids(crowd, UserSearch("MAIN", order_by="first_name", limit=100)) == [
        "u01",
        "u05",
        "u02",
        "u03",
        "u04",
        "u06",
        "u00",
    ]
    assert ids(crowd, UserSearch("MAIN", order_by="primary_id", limit=100)) == [
        f"u{i:02d}" for i in range(7)
    ]


def test_paging_and_total(crowd: Engine) -> None:
    every = ids(crowd, UserSearch("MAIN", order_by="primary_id", limit=100))
    with SqlUnitOfWork(crowd) as uow:
        page = uow.users.search(UserSearch("MAIN", order_by="primary_id", limit=3, offset=2))
        assert page.total == 7
        assert [u.primary_id for u in page.users] == every[2:5]
        tail = uow.users.search(UserSearch("MAIN", order_by="primary_id", limit=3, offset=5))
        assert [u.primary_id for u in tail.users] == every[5:]
        assert uow.users.search(UserSearch("MAIN", limit=3, offset=7)).users == []
        assert uow.users.search(UserSearch("MAIN", limit=3, offset=7)).total == 7
        none = uow.users.search(UserSearch("MAIN", limit=0))
        assert (none.users, none.total) == ([], 7)
        adams = uow.users.search(
            UserSearch("MAIN", (Condition(("last_name",), (Term("adams"),)),), limit=1)
        )
        assert adams.total == 2 and len(adams.users) == 1


def test_modified_from(crowd: Engine) -> None:
    # u03 was modified on 2024-01-04 23:30 UTC
    assert ids(
        crowd, UserSearch("MAIN", order_by="primary_id", modified_from=date(2024, 1, 4), limit=100)
    ) == ["u03", "u04", "u05", "u06"]
    assert ids(crowd, UserSearch("MAIN", modified_from=date(2025, 1, 1))) == []


def test_search_after_replace_uses_new_terms(engine: Engine) -> None:
    add(engine, make_user("p", last_name="Before"))
    with SqlUnitOfWork(engine) as uow:
        uow.users.replace(
            "p", make_user("p", last_name="After", notes=[Note(note_text="hello")]), None
        )
        uow.commit()
    assert q(engine, "last_name~before") == []
    assert q(engine, "last_name~after AND note_text~hello") == ["p"]
