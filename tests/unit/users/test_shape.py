"""The declaration of the user record (``users.shape``) against the model it describes, and
the field lists derived from it."""

from __future__ import annotations

import dataclasses

import pytest

from bookplate.auth.matching import MAPPABLE_FIELDS
from bookplate.sis.mapping import ADDRESS_PARTS, DATES, SCALARS
from bookplate.users import shape
from bookplate.users.model import User
from bookplate.users.queries import _HOW, SEARCH_FIELDS, parse_q

# Bookplate's own members of a user, not Alma's: never on the wire.
NOT_ALMA = {"institution", "manual_fields"}
RECORDS = sorted({r.name: r for r, _ in shape.walk()}.values(), key=lambda r: r.name)


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if r.make is not None], ids=lambda r: str(r.name)
)
def test_every_model_field_is_declared_once(record: shape.Record) -> None:
    assert record.make is not None
    model = {f.name for f in dataclasses.fields(record.make)} - NOT_ALMA
    targets = [f.target for f in record.fields if f.target is not None]
    assert len(targets) == len(set(targets))
    # full_name of a User is worked out (a property), not a field.
    worked_out = {"full_name"} if record.make is User else set()
    assert set(targets) - worked_out == model


def test_a_field_name_has_one_length_limit_wherever_it_occurs() -> None:
    seen: dict[str, int] = {}
    for record in RECORDS:
        for name, limit in record.limits().items():
            assert seen.setdefault(name, limit) == limit, name
    assert {n: v for n, v in seen.items() if v != shape.DEFAULT_MAX} == shape.MAX_LENGTHS


def test_derived_lists_are_the_ones_spec_names() -> None:
    assert set(shape.PROTECTED_FIELDS) == {
        "user_group", "job_category", "pin_number", "preferred_language", "campus_code",
        "rs_libraries", "user_title", "library_notices", "pref_first_name", "pref_middle_name",
        "pref_last_name", "cataloger_level",
    }  # fmt: skip
    assert shape.OVERRIDE_NAMES["rs_library"] == "rs_libraries"
    assert shape.OVERRIDE_NAMES["library_notice"] == "library_notices"
    assert "primary_id" in SCALARS and "external_id" not in SCALARS
    assert {"birth_date", "expiry_date", "purge_date"} == DATES
    assert "country" in ADDRESS_PARTS and "start_date" not in ADDRESS_PARTS
    assert "linking_id" in MAPPABLE_FIELDS and "pin_number" not in MAPPABLE_FIELDS
    assert set(shape.FIELD_TABLES.values()) >= {"UserGroups", "UserRoleStatus", "CountryCodes"}


def test_a_condition_name_is_searched_one_way() -> None:
    for record in RECORDS:
        for f in record.fields:
            for search in f.search:
                assert _HOW[search.name] is search.how, search.name
    assert parse_q("ALL~x")[0].fields == SEARCH_FIELDS
