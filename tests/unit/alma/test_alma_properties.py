"""Property tests: for generated users the codec loses nothing it should keep."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookplate.alma.json import dump_json, parse_json_object
from bookplate.alma.tree import dict_to_element, element_to_dict
from bookplate.alma.user import user_from_dict, user_from_json, user_from_xml, user_to_dict
from bookplate.alma.xml import parse_xml, to_bytes
from bookplate.users.errors import InvalidFieldValue, UnreadableRecord
from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    LibraryNotice,
    Note,
    Phone,
    ProxyFor,
    Role,
    RoleParameter,
    SegmentType,
    Statistic,
    User,
)
from tests.unit.alma.conftest import default_describe

# Text XML 1.0 can carry (no control characters, surrogates or non-characters), non-empty:
# the codec reads "" as "not set".
_chars = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn"))
text = st.text(_chars, min_size=1, max_size=12)
opt_text = st.none() | text
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
opt_date = st.none() | dates
opt_datetime = st.none() | st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
segment = st.sampled_from(list(SegmentType))
codes = st.lists(text, max_size=3)

addresses = st.builds(
    Address,
    line1=opt_text,
    line2=opt_text,
    line3=opt_text,
    line4=opt_text,
    line5=opt_text,
    city=opt_text,
    state_province=opt_text,
    postal_code=opt_text,
    country=opt_text,
    address_note=opt_text,
    start_date=opt_date,
    end_date=opt_date,
    address_types=codes,
    preferred=st.booleans(),
    segment_type=segment,
)
emails = st.builds(
    Email,
    email_address=opt_text,
    description=opt_text,
    email_types=codes,
    preferred=st.booleans(),
    segment_type=segment,
)
phones = st.builds(
    Phone,
    phone_number=opt_text,
    phone_types=codes,
    preferred=st.booleans(),
    preferred_sms=st.booleans(),
    segment_type=segment,
)
identifiers = st.builds(
    Identifier,
    id_type=opt_text,
    value=opt_text,
    note=opt_text,
    status=opt_text,
    segment_type=segment,
)
roles = st.builds(
    Role,
    role_type=opt_text,
    scope=opt_text,
    status=opt_text,
    expiry_date=opt_date,
    parameters=st.lists(
        st.builds(RoleParameter, type=opt_text, scope=opt_text, value=opt_text), max_size=2
    ),
)
notes = st.builds(
    Note,
    note_type=opt_text,
    note_text=opt_text,
    user_viewable=st.booleans(),
    popup_note=st.booleans(),
    created_by=opt_text,
    created_date=opt_datetime,
    note_owner=opt_text,
    segment_type=segment,
)
blocks = st.builds(
    Block,
    block_type=opt_text,
    block_description=opt_text,
    block_status=opt_text,
    block_note=opt_text,
    created_by=opt_text,
    created_date=opt_datetime,
    expiry_date=opt_datetime,
    block_owner=opt_text,
    segment_type=segment,
)
statistics = st.builds(
    Statistic,
    statistic_category=opt_text,
    category_type=opt_text,
    statistic_note=opt_text,
    statistic_owner=opt_text,
    segment_type=segment,
)
proxies = st.builds(ProxyFor, primary_id=opt_text, full_name=opt_text, proxy_type=opt_text)
notices = st.builds(LibraryNotice, code=opt_text, value=st.booleans())


def _few(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[list[object]]:
    return st.lists(strategy, max_size=2)


users = st.builds(
    User,
    primary_id=text,
    record_type=text,
    account_type=text,
    external_id=opt_text,
    status=text,
    status_date=opt_date,
    first_name=opt_text,
    middle_name=opt_text,
    last_name=opt_text,
    pref_first_name=opt_text,
    pref_middle_name=opt_text,
    pref_last_name=opt_text,
    pref_name_suffix=opt_text,
    user_title=opt_text,
    job_category=opt_text,
    job_description=opt_text,
    gender=opt_text,
    user_group=opt_text,
    campus_code=opt_text,
    web_site_url=opt_text,
    cataloger_level=opt_text,
    preferred_language=opt_text,
    birth_date=opt_date,
    expiry_date=opt_date,
    purge_date=opt_date,
    pin_number=opt_text,
    force_password_change=st.none() | st.booleans(),
    contact_info=st.builds(
        ContactInfo, addresses=_few(addresses), emails=_few(emails), phones=_few(phones)
    ),
    identifiers=_few(identifiers),
    roles=_few(roles),
    notes=_few(notes),
    blocks=_few(blocks),
    statistics=_few(statistics),
    proxy_for=_few(proxies),
    rs_libraries=codes,
    library_notices=_few(notices),
    linking_id=opt_text,
    source_institution_code=opt_text,
    source_link_id=opt_text,
    # output-only members: written, never read back
    created_by=opt_text,
    created_date=opt_datetime,
    last_modified_by=opt_text,
    last_modified_date=opt_datetime,
    last_patron_activity_date=opt_date,
)

_OUTPUT_ONLY = {
    "created_by": None,
    "created_date": None,
    "last_modified_by": None,
    "last_modified_date": None,
    "last_patron_activity_date": None,
}

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(users)
def test_dict_round_trip_keeps_input_fields(user: User) -> None:
    back = user_from_dict(user_to_dict(user, default_describe))
    assert back.user == dataclasses.replace(user, **_OUTPUT_ONLY)
    assert back.password is None


@_settings
@given(users)
def test_json_bytes_round_trip(user: User) -> None:
    data = user_to_dict(user, default_describe, link="https://h/u")
    assert parse_json_object(dump_json(data)) == data


@_settings
@given(users)
def test_dict_to_xml_to_dict_is_identity(user: User) -> None:
    data = user_to_dict(user, default_describe, link="https://h/u")
    xml = to_bytes(dict_to_element(data))
    assert element_to_dict(parse_xml(xml)) == data
    # and XML -> dict -> XML gives the same bytes
    assert to_bytes(dict_to_element(element_to_dict(parse_xml(xml)))) == xml


@_settings
@given(users)
def test_brief_view_round_trips_what_it_holds(user: User) -> None:
    data = user_to_dict(user, default_describe, view="brief")
    back = user_from_dict(element_to_dict(parse_xml(to_bytes(dict_to_element(data))))).user
    assert back.contact_info.emails == user.contact_info.emails
    assert back.identifiers == user.identifiers
    assert back.statistics == user.statistics
    assert back.roles == [] and back.contact_info.addresses == []


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_user_from_dict_never_crashes_unexpectedly(value: object) -> None:
    for data in (
        {"primary_id": "p", "user_role": value},
        {"contact_info": value},
        {"first_name": value},
    ):
        with contextlib.suppress(InvalidFieldValue):
            user_from_dict(data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=30,
)
_member_names = st.sampled_from(
    [
        "primary_id",
        "record_type",
        "first_name",
        "birth_date",
        "force_password_change",
        "contact_info",
        "user_identifier",
        "user_role",
        "user_note",
        "user_block",
        "rs_library",
        "library_notice",
        "proxy_for_user",
        "password",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_member_names, _json_values, max_size=6))
def test_arbitrary_json_members_give_a_user_or_invalid_field_value(data: dict[str, object]) -> None:
    with contextlib.suppress(InvalidFieldValue):
        user_from_dict(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: f"<user>{t}</user>".encode()))
def test_arbitrary_xml_bytes_give_a_user_or_a_typed_error(body: bytes) -> None:
    with contextlib.suppress(InvalidFieldValue, UnreadableRecord):
        user_from_xml(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_json_bytes_give_a_user_or_a_typed_error(body: bytes) -> None:
    with contextlib.suppress(InvalidFieldValue, UnreadableRecord):
        user_from_json(body)
