"""JSON-shaped dict <-> User, and the byte-level convenience functions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from bookplate.alma.tree import element_to_dict
from bookplate.alma.user import (
    Describe,
    brief_list_entry,
    format_date,
    format_datetime,
    user_from_dict,
    user_from_json,
    user_from_xml,
    user_to_dict,
    user_to_json,
    user_to_xml,
    users_to_dict,
    users_to_json,
    users_to_xml,
)
from bookplate.alma.xml import parse_xml
from bookplate.users.errors import InvalidFieldValue
from bookplate.users.model import (
    Address,
    Block,
    ContactInfo,
    Email,
    Identifier,
    LibraryNotice,
    Note,
    Phone,
    Role,
    RoleParameter,
    SegmentType,
    Statistic,
    User,
)


def _user(**extra: Any) -> User:
    return user_from_dict({"primary_id": "p1", **extra}).user


def sample_user() -> User:
    return User(
        primary_id="jdoe",
        record_type="PUBLIC",
        account_type="INTERNAL",
        status="ACTIVE",
        first_name="Jane",
        last_name="Doe",
        pref_first_name="Jay",
        user_group="UNDERGRAD",
        expiry_date=date(2030, 8, 30),
        force_password_change=True,
        contact_info=ContactInfo(
            addresses=[Address(line1="1 Main St", country="USA", address_types=["home"])],
            emails=[Email(email_address="j@example.edu", email_types=["school"], preferred=True)],
            phones=[Phone(phone_number="555", phone_types=["mobile"], preferred_sms=True)],
        ),
        identifiers=[
            Identifier(id_type="BARCODE", value="123", status="ACTIVE"),
        ],
        roles=[
            Role(
                role_type="32",
                scope="MAIN",
                status="ACTIVE",
                parameters=[RoleParameter(type="CirculationDesk", scope="MAIN", value="D1")],
            )
        ],
        notes=[Note(note_type="GENERAL", note_text="hi", user_viewable=True)],
        blocks=[
            Block(
                block_type="GENERAL",
                block_description="LOST_CARD",
                expiry_date=datetime(2030, 1, 1, tzinfo=UTC),
            )
        ],
        statistics=[Statistic(statistic_category="LOCAL", segment_type=SegmentType.EXTERNAL)],
        rs_libraries=["MAIN"],
        library_notices=[LibraryNotice(code="FulUserOverdueLetter", value=True)],
        created_by="admin",
        created_date=datetime(2024, 5, 30, 9, 30, 10, tzinfo=UTC),
        last_modified_date=datetime(2024, 5, 30, 14, 36, 48, 659000, tzinfo=UTC),
    )


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("FALSE", False),
        ("True", True),
        ("", False),
        (None, False),
    ],
)
def test_booleans_as_json_or_strings(raw: object, expected: bool) -> None:
    user = _user(contact_info={"email": [{"email_address": "a@b", "preferred": raw}]})
    assert user.contact_info.emails[0].preferred is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("TRUE", True), ("FALSE", False), ("true", True), ("", None), (None, None), (False, False)],
)
def test_force_password_change(raw: object, expected: bool | None) -> None:
    assert _user(force_password_change=raw).force_password_change is expected


@pytest.mark.parametrize(
    "raw", [{"value": "STAFF", "desc": "whatever"}, {"value": "STAFF"}, "STAFF"]
)
def test_codes_as_objects_or_bare_strings(raw: object) -> None:
    assert _user(record_type=raw).record_type == "STAFF"


@pytest.mark.parametrize("raw", ["", None, {"value": ""}, {"value": None, "desc": None}, {}])
def test_empty_codes_are_none(raw: object) -> None:
    assert _user(user_group=raw).user_group is None


def test_numeric_code_is_accepted_as_text() -> None:
    assert _user(user_role=[{"role_type": 200}]).roles[0].role_type == "200"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2030-08-30Z", date(2030, 8, 30)),
        ("2030-08-30", date(2030, 8, 30)),
        ("2030-08-30+02:00", date(2030, 8, 30)),
        ("2030-08-30T10:00:00Z", date(2030, 8, 30)),
        ("2030-08-30T10:00:00.123Z", date(2030, 8, 30)),
        ("", None),
        (None, None),
    ],
)
def test_dates(raw: object, expected: date | None) -> None:
    assert _user(expiry_date=raw).expiry_date == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-30T09:30:10Z", datetime(2024, 5, 30, 9, 30, 10, tzinfo=UTC)),
        ("2019-12-18T14:36:48.659Z", datetime(2019, 12, 18, 14, 36, 48, 659000, tzinfo=UTC)),
        ("2024-05-30T11:30:10+02:00", datetime(2024, 5, 30, 9, 30, 10, tzinfo=UTC)),
        ("2024-05-30T09:30:10", datetime(2024, 5, 30, 9, 30, 10, tzinfo=UTC)),
        ("2024-05-30Z", datetime(2024, 5, 30, tzinfo=UTC)),
    ],
)
def test_datetimes_are_timezone_aware(raw: str, expected: datetime) -> None:
    block = _user(user_block=[{"block_type": "GENERAL", "created_date": raw}]).blocks[0]
    assert block.created_date == expected
    assert block.created_date is not None and block.created_date.tzinfo is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": ["a"]}, "first_name"),
        ({"first_name": 5}, "first_name"),
        ({"first_name": True}, "first_name"),
        ({"first_name": {"value": "x"}}, "first_name"),
        ({"primary_id": 123}, "primary_id"),
        ({"expiry_date": {"value": "2030-01-01"}}, "expiry_date"),
        ({"expiry_date": "2030-13-01Z"}, "expiry_date"),
        ({"expiry_date": "tomorrow"}, "expiry_date"),
        ({"expiry_date": 20300101}, "expiry_date"),
        ({"birth_date": "2030-02-30"}, "birth_date"),
        ({"user_group": ["UNDERGRAD"]}, "user_group"),
        ({"user_group": {"value": ["x"]}}, "user_group"),
        ({"user_group": True}, "user_group"),
        ({"force_password_change": "yes"}, "force_password_change"),
        ({"contact_info": []}, "contact_info"),
        ({"contact_info": {"email": "a@b"}}, "contact_info.email"),
        ({"contact_info": {"email": [{"preferred": "maybe"}]}}, "contact_info.email[0].preferred"),
        ({"contact_info": {"email": ["a@b"]}}, "contact_info.email[0]"),
        ({"user_identifier": [{"segment_type": "Both"}]}, "user_identifier[0].segment_type"),
        ({"user_role": [{"expiry_date": "x"}]}, "user_role[0].expiry_date"),
        ({"user_role": [{"parameter": [{"type": [1]}]}]}, "user_role[0].parameter[0].type"),
        ({"user_note": [{"created_date": "2024-99-01T00:00:00Z"}]}, "user_note[0].created_date"),
        ({"user_block": [{"expiry_date": 5}]}, "user_block[0].expiry_date"),
        ({"library_notice": [{"code": "X", "value": 1}]}, "library_notice[0].value"),
        ({"user_statistic": 7}, "user_statistic"),
    ],
)
def test_wrong_types_raise_invalid_field_value(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFieldValue) as info:
        user_from_dict({"primary_id": "p", **data})
    assert info.value.field == field


def test_output_only_and_unknown_members_are_ignored() -> None:
    got = user_from_dict(
        {
            "primary_id": "p",
            "link": "https://example/almaws/v1/users/p",
            "full_name": "Someone Else",
            "created_by": "x",
            "created_date": "2020-01-01T00:00:00Z",
            "last_modified_by": "y",
            "last_modified_date": "not even a date",
            "last_patron_activity_date": "2020-01-01Z",
            "requests": {"value": "3"},
            "loans": {"value": "14"},
            "fees": {"value": "1.5", "currency": "EUR"},
            "is_researcher": "false",
            "researcher": {"researcher_first_name": "J"},
            "something_new": [1, 2, {"x": None}],
            "password": "",
        }
    )
    assert got.user == User(primary_id="p", record_type="", account_type="", status="")
    assert got.password is None


def test_password_is_kept_apart_from_the_user() -> None:
    got = user_from_dict({"primary_id": "p", "password": "a-long-passphrase"})
    assert got.password == "a-long-passphrase"


def test_identifier_status_as_string_or_code() -> None:
    user = _user(
        user_identifier=[
            {"value": "a", "status": "ACTIVE"},
            {"value": "b", "status": {"value": "INACTIVE"}},
        ]
    )
    assert [i.status for i in user.identifiers] == ["ACTIVE", "INACTIVE"]


def test_segment_type_is_case_insensitive_and_defaults_to_internal() -> None:
    user = _user(
        user_identifier=[{"value": "a", "segment_type": "external"}, {"value": "b"}],
    )
    assert [i.segment_type for i in user.identifiers] == [
        SegmentType.EXTERNAL,
        SegmentType.INTERNAL,
    ]


def test_absent_mandatory_fields_are_empty_not_invented() -> None:
    user = user_from_dict({}).user
    assert (user.primary_id, user.record_type, user.account_type, user.status) == ("", "", "", "")


def test_empty_strings_and_nulls_are_none() -> None:
    user = _user(first_name="", middle_name=None, external_id="", user_title={"value": ""})
    assert (user.first_name, user.middle_name, user.external_id, user.user_title) == (
        None,
        None,
        None,
        None,
    )


def test_null_lists_and_contact_info() -> None:
    user = _user(contact_info=None, user_role=None, rs_library=[{"code": {"value": ""}}])
    assert user.contact_info == ContactInfo()
    assert user.roles == []
    assert user.rs_libraries == []


def test_long_and_unicode_names_survive_json_and_xml(describe: Describe) -> None:
    long_name = "A" * 10_000
    names = ["Åsa", "Zoë", "李小龙", "Ελένη", "Nguyễn", "😀 emoji", "O'Brien & <Co>"]
    user = User(primary_id="u", first_name=long_name, last_name=" ".join(names))
    for body, reader in (
        (user_to_json(user, describe), user_from_json),
        (user_to_xml(user, describe), user_from_xml),
    ):
        back = reader(body).user
        assert back.first_name == long_name
        assert back.last_name == user.last_name


def test_sis_style_xml_user_reads() -> None:
    doc = b"""<user><record_type>PUBLIC</record_type><primary_id>jdoe42</primary_id>
      <account_type>EXTERNAL</account_type><external_id>SIS</external_id>
      <expiry_date>2027-08-30Z</expiry_date>
      <contact_info><emails><email preferred="true" segment_type="External">
        <email_address>jane@example.edu</email_address>
        <email_types><email_type>school</email_type></email_types></email></emails>
      </contact_info></user>"""
    user = user_from_xml(doc).user
    assert user.account_type == "EXTERNAL"
    assert user.expiry_date == date(2027, 8, 30)
    email = user.contact_info.emails[0]
    assert (email.preferred, email.segment_type, email.email_types) == (
        True,
        SegmentType.EXTERNAL,
        ["school"],
    )


# ------------------------------------------------------------------ writing


def test_format_date_and_datetime() -> None:
    assert format_date(date(2030, 8, 30)) == "2030-08-30Z"
    assert format_datetime(datetime(2024, 5, 30, 9, 30, 10, tzinfo=UTC)) == "2024-05-30T09:30:10Z"
    with_ms = datetime(2019, 12, 18, 14, 36, 48, 659000, tzinfo=UTC)
    assert format_datetime(with_ms) == "2019-12-18T14:36:48.659Z"
    with_us = datetime(2019, 12, 18, 14, 36, 48, 659001, tzinfo=UTC)
    assert format_datetime(with_us) == "2019-12-18T14:36:48.659001Z"
    plus_two = datetime(2024, 5, 30, 11, 30, 10, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(plus_two) == "2024-05-30T09:30:10Z"
    assert format_datetime(datetime(2024, 5, 30, 9, 30, 10)) == "2024-05-30T09:30:10Z"
    assert format_date(date(999, 1, 2)) == "0999-01-02Z"


def test_user_to_dict_shape(describe: Describe) -> None:
    out = user_to_dict(sample_user(), describe, link="https://h/almaws/v1/users/jdoe")
    assert out["record_type"] == {"value": "PUBLIC", "desc": "Public"}
    assert out["user_group"] == {"value": "UNDERGRAD", "desc": "Undergraduate"}
    assert out["full_name"] == "Jay Doe"
    assert out["password"] == ""
    assert out["force_password_change"] == "TRUE"
    assert out["expiry_date"] == "2030-08-30Z"
    assert out["created_by"] == "admin"
    assert out["created_date"] == "2024-05-30T09:30:10Z"
    assert out["last_modified_date"] == "2024-05-30T14:36:48.659Z"
    assert "last_modified_by" not in out
    assert "middle_name" not in out
    assert out["link"] == "https://h/almaws/v1/users/jdoe"
    email = out["contact_info"]["email"][0]
    assert email == {
        "preferred": True,
        "segment_type": "Internal",
        "email_address": "j@example.edu",
        "email_type": [{"value": "school", "desc": "School"}],
    }
    phone = out["contact_info"]["phone"][0]
    assert phone["preferred"] is False and phone["preferred_sms"] is True
    assert out["contact_info"]["address"][0]["country"] == {"value": "USA", "desc": "United States"}
    role = out["user_role"][0]
    assert role["role_type"] == {"value": "32", "desc": "Circulation Desk Operator"}
    assert role["status"] == {"value": "ACTIVE", "desc": "Active"}
    assert role["scope"] == {"value": "MAIN", "desc": None}
    assert role["parameter"] == [
        {
            "type": {"value": "CirculationDesk", "desc": None},
            "scope": {"value": "MAIN", "desc": None},
            "value": {"value": "D1", "desc": None},
        }
    ]
    assert out["user_identifier"][0] == {
        "segment_type": "Internal",
        "id_type": {"value": "BARCODE", "desc": "Barcode"},
        "value": "123",
        "status": "ACTIVE",
    }
    assert out["user_block"][0]["expiry_date"] == "2030-01-01T00:00:00Z"
    assert out["user_note"][0]["user_viewable"] is True
    assert out["user_statistic"][0]["segment_type"] == "External"
    assert out["rs_library"] == [{"code": {"value": "MAIN", "desc": None}}]
    assert out["library_notice"] == [
        {"code": {"value": "FulUserOverdueLetter", "desc": "Overdue letter"}, "value": True}
    ]
    assert out["proxy_for_user"] == []
    json.dumps(out)  # plain JSON data only


def test_force_password_change_none_is_empty_string(describe: Describe) -> None:
    assert user_to_dict(User(primary_id="x"), describe)["force_password_change"] == ""
    user = User(primary_id="x", force_password_change=False)
    assert user_to_dict(user, describe)["force_password_change"] == "FALSE"


def test_minimal_user_emits_lists_and_no_nones(describe: Describe) -> None:
    out = user_to_dict(User(primary_id="x"), describe)
    assert out["contact_info"] == {"address": [], "email": [], "phone": []}
    for key in ("user_identifier", "user_role", "user_block", "user_note", "user_statistic"):
        assert out[key] == []
    assert None not in out.values()
    assert "link" not in out


def test_brief_view(describe: Describe) -> None:
    out = user_to_dict(sample_user(), describe, view="brief")
    assert out["contact_info"] == {"email": [out["contact_info"]["email"][0]]}
    assert "user_identifier" in out and "user_statistic" in out
    for key in ("user_role", "user_block", "user_note", "rs_library", "library_notice"):
        assert key not in out
    assert out["user_group"]["value"] == "UNDERGRAD"


def test_brief_list_entry(describe: Describe) -> None:
    entry = brief_list_entry(sample_user(), describe, "https://h/almaws/v1/users/jdoe")
    assert entry["primary_id"] == "jdoe"
    assert entry["link"] == "https://h/almaws/v1/users/jdoe"
    assert entry["status"] == {"value": "ACTIVE", "desc": "Active"}
    assert entry["user_group"] == {"value": "UNDERGRAD", "desc": "Undergraduate"}
    assert "contact_info" not in entry
    assert user_from_dict(entry).user.primary_id == "jdoe"


def test_json_and_xml_bytes_round_trip(describe: Describe) -> None:
    user = sample_user()
    from_json = user_from_json(user_to_json(user, describe)).user
    from_xml = user_from_xml(user_to_xml(user, describe)).user
    assert from_json == from_xml
    assert from_json.roles == user.roles
    assert from_json.contact_info == user.contact_info
    assert from_json.created_date is None  # output-only


def test_xml_is_the_json_shape(describe: Describe) -> None:
    user = sample_user()
    as_dict = user_to_dict(user, describe, link="L")
    assert element_to_dict(parse_xml(user_to_xml(user, describe, link="L"))) == as_dict
    assert json.loads(user_to_json(user, describe, link="L")) == as_dict


def test_users_list_json_and_xml(describe: Describe) -> None:
    users = [sample_user(), User(primary_id="b", last_name="B")]

    def link(u: User) -> str:
        return f"https://h/almaws/v1/users/{u.primary_id}"

    data = users_to_dict(users, 12, describe, link_for=link)
    assert data["total_record_count"] == 12
    assert [e["link"] for e in data["user"]] == [link(u) for u in users]
    assert json.loads(users_to_json(users, 12, describe, link_for=link)) == data
    xml = users_to_xml(users, 12, describe, link_for=link)
    root = parse_xml(xml)
    assert root.tag == "users" and root.get("total_record_count") == "12"
    assert [u.get("link") for u in root] == [link(u) for u in users]


def test_users_list_full_entries_are_used_as_given(describe: Describe) -> None:
    full = user_to_dict(sample_user(), describe, link="L")
    data = json.loads(users_to_json([full], 1))
    assert data == {"user": [full], "total_record_count": 1}


def test_empty_users_list_has_count_and_no_user_key() -> None:
    assert json.loads(users_to_json([], 0)) == {"total_record_count": 0}
    assert users_to_xml([], 0).endswith(b'<users total_record_count="0"/>')


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_datetimes_that_cannot_be_held_in_utc_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidFieldValue):
        user_from_dict({"user_note": [{"created_date": raw}]})
