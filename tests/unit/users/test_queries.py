"""The q language and the terms a user is indexed under."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookplate.users.errors import InvalidParameter
from bookplate.users.model import ContactInfo, Email, Identifier, Note, Phone, User
from bookplate.users.queries import (
    GENERAL_INFO_FIELDS,
    NAME_FIELDS,
    SEARCH_FIELDS,
    Term,
    box_conditions,
    parse_q,
    search_terms,
)


def test_single_condition() -> None:
    (cond,) = parse_q("last_name~Smith")
    assert cond.fields == ("last_name",)
    assert cond.terms == (Term("smith"),)


@pytest.mark.parametrize(
    "q", ["last_name~Smith AND first_name~Jo", "last_name~Smith+AND+first_name~Jo"]
)
def test_and_forms(q: str) -> None:
    conds = parse_q(q)
    assert [c.fields for c in conds] == [("last_name",), ("first_name",)]


def test_underscore_and_prefix_and_accents() -> None:
    (cond,) = parse_q("last_name~van_der_Mé*")
    assert cond.terms == (Term("van"), Term("der"), Term("me", prefix=True))


def test_whole_value_fields_keep_underscores() -> None:
    (cond,) = parse_q("primary_id~J_DOE")
    assert cond.terms == (Term("j_doe"),)
    (cond,) = parse_q("email~Jane@Example.edu")
    assert cond.terms == (Term("jane@example.edu"),)


def test_all_and_general_info() -> None:
    assert parse_q("ALL~x")[0].fields == SEARCH_FIELDS
    assert parse_q("general_info~x")[0].fields == GENERAL_INFO_FIELDS
    assert "email" not in GENERAL_INFO_FIELDS


@pytest.mark.parametrize(
    "q",
    [
        "nonsense",
        "password~x",
        "last_name~",
        "ALL~x AND last_name~y",
        "last_name~***",
        " AND ".join(["last_name~a"] * 11),
        "'; DROP TABLE users;--~x",
    ],
)
def test_bad_queries(q: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_q(q)


def test_empty_query_is_no_condition() -> None:
    assert parse_q("") == ()


@given(st.text(max_size=200))
def test_parse_q_never_crashes(q: str) -> None:
    with contextlib.suppress(InvalidParameter):
        parse_q(q)


def test_search_terms_cover_fields() -> None:
    user = User(
        primary_id="JDoe",
        first_name="Jane Ann",
        last_name="Doe-Smith",
        pref_last_name="Dó",
        birth_date=date(1990, 5, 1),
        user_group="UNDERGRAD",
        contact_info=ContactInfo(
            emails=[Email("Jane@Example.edu")], phones=[Phone("+1 (555) 010-2000")]
        ),
        identifiers=[Identifier("BARCODE", "B-001")],
        notes=[Note("GENERAL", "Likes quiet rooms")],
    )
    terms = search_terms(user)
    assert ("primary_id", "jdoe") in terms
    assert ("first_name", "ann") in terms
    assert ("last_name", "smith") in terms
    assert ("last_name", "do") in terms
    assert ("email", "jane@example.edu") in terms
    assert ("phone_number", "15550102000") in terms
    assert ("identifiers", "b-001") in terms
    assert ("id_type", "barcode") in terms
    assert ("birth_date", "1990-05-01") in terms
    assert ("note_text", "quiet") in terms
    assert ("user_group", "undergrad") in terms


def test_code_fields_match_whole_codes() -> None:
    (cond,) = parse_q("id_type~UNIV_ID")
    assert cond.terms == (Term("univ_id"),)
    user = User(
        primary_id="x",
        identifiers=[Identifier("UNIV_ID", "1")],
        campus_code="MAIN_C",
        job_category="Senior_Librarian",
    )
    terms = search_terms(user)
    assert ("id_type", "univ_id") in terms
    assert ("campus_code", "main_c") in terms
    assert ("job_category", "senior_librarian") in terms


def test_the_staff_search_box() -> None:
    (names,) = box_conditions("  Jo  Müller ")
    assert names.fields == NAME_FIELDS
    assert names.terms == (Term("jo", True), Term("muller", True))  # starts of names
    (email,) = box_conditions("Jane.Doe@Example.org")
    assert email.fields == ("email",) and email.terms == (Term("jane.doe@example.org"),)
    assert box_conditions("jane@exa*")[0].terms == (Term("jane@exa", True),)
    assert box_conditions("") == () and box_conditions(" *** ") == ()
    assert len(box_conditions(" ".join(f"w{i}" for i in range(30)))[0].terms) == 10
