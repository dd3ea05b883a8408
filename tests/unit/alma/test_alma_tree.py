"""The XML shape <-> JSON shape mapping."""

from __future__ import annotations

from typing import Any

import pytest

from bookplate.alma.tree import (
    dict_to_element,
    element_to_dict,
    users_dict_to_element,
    users_element_to_dict,
)
from bookplate.alma.xml import parse_xml, to_bytes
from bookplate.users.errors import InvalidFieldValue, UnreadableRecord

USER_XML = b"""<user link="https://x/almaws/v1/users/jdoe">
  <record_type desc="Public">PUBLIC</record_type>
  <primary_id>jdoe</primary_id>
  <middle_name/>
  <contact_info>
    <addresses>
      <address preferred="true" segment_type="External">
        <line1>Main St 1</line1>
        <country/>
        <address_types><address_type desc="Home">home</address_type></address_types>
      </address>
    </addresses>
    <emails>
      <email preferred="false" segment_type="Internal">
        <email_address>j@example.org</email_address>
        <email_types><email_type>work</email_type><email_type>school</email_type></email_types>
      </email>
    </emails>
    <phones>
      <phone preferred="true" preferred_sms="FALSE"><phone_number>1</phone_number>
        <phone_types/></phone>
    </phones>
  </contact_info>
  <user_identifiers>
    <user_identifier segment_type="External">
      <id_type desc="Barcode">BARCODE</id_type><value>123</value><status>ACTIVE</status>
    </user_identifier>
  </user_identifiers>
  <user_roles>
    <user_role>
      <status>ACTIVE</status><scope desc="Main">MAIN</scope><role_type>32</role_type>
      <parameters><parameter><type>CirculationDesk</type><scope>MAIN</scope>
        <value desc="Desk">DESK1</value></parameter></parameters>
    </user_role>
  </user_roles>
  <user_notes><user_note segment_type="Internal"><note_type>GENERAL</note_type>
    <user_viewable>true</user_viewable><popup_note>false</popup_note></user_note></user_notes>
  <user_blocks/>
  <user_statistics><user_statistic segment_type="External">
    <statistic_category>LOCAL</statistic_category></user_statistic></user_statistics>
  <proxy_for_users><proxy_for_user><primary_id>kid</primary_id></proxy_for_user></proxy_for_users>
  <rs_libraries><rs_library><code desc="Main">MAIN</code></rs_library></rs_libraries>
  <library_notices><library_notice><code>FulUserOverdueLetter</code><value>true</value>
  </library_notice></library_notices>
</user>"""

EXPECTED: dict[str, Any] = {
    "link": "https://x/almaws/v1/users/jdoe",
    "record_type": {"value": "PUBLIC", "desc": "Public"},
    "primary_id": "jdoe",
    "middle_name": "",
    "contact_info": {
        "address": [
            {
                "preferred": True,
                "segment_type": "External",
                "line1": "Main St 1",
                "country": {"value": "", "desc": None},
                "address_type": [{"value": "home", "desc": "Home"}],
            }
        ],
        "email": [
            {
                "preferred": False,
                "segment_type": "Internal",
                "email_address": "j@example.org",
                "email_type": [
                    {"value": "work", "desc": None},
                    {"value": "school", "desc": None},
                ],
            }
        ],
        "phone": [
            {"preferred": True, "preferred_sms": False, "phone_number": "1", "phone_type": []}
        ],
    },
    "user_identifier": [
        {
            "segment_type": "External",
            "id_type": {"value": "BARCODE", "desc": "Barcode"},
            "value": "123",
            "status": "ACTIVE",
        }
    ],
    "user_role": [
        {
            "status": {"value": "ACTIVE", "desc": None},
            "scope": {"value": "MAIN", "desc": "Main"},
            "role_type": {"value": "32", "desc": None},
            "parameter": [
                {
                    "type": {"value": "CirculationDesk", "desc": None},
                    "scope": {"value": "MAIN", "desc": None},
                    "value": {"value": "DESK1", "desc": "Desk"},
                }
            ],
        }
    ],
    "user_note": [
        {
            "segment_type": "Internal",
            "note_type": {"value": "GENERAL", "desc": None},
            "user_viewable": True,
            "popup_note": False,
        }
    ],
    "user_block": [],
    "user_statistic": [
        {"segment_type": "External", "statistic_category": {"value": "LOCAL", "desc": None}}
    ],
    "proxy_for_user": [{"primary_id": "kid"}],
    "rs_library": [{"code": {"value": "MAIN", "desc": "Main"}}],
    "library_notice": [{"code": {"value": "FulUserOverdueLetter", "desc": None}, "value": True}],
}


def test_xml_to_json_shape() -> None:
    assert element_to_dict(parse_xml(USER_XML)) == EXPECTED


def test_json_shape_to_xml_and_back() -> None:
    xml = to_bytes(dict_to_element(EXPECTED))
    assert element_to_dict(parse_xml(xml)) == EXPECTED
    # and the XML written is stable under another pass
    assert to_bytes(dict_to_element(element_to_dict(parse_xml(xml)))) == xml


def test_xml_written_uses_wrappers_attributes_and_desc() -> None:
    xml = to_bytes(dict_to_element(EXPECTED))
    assert b'<user link="https://x/almaws/v1/users/jdoe">' in xml
    assert b'<record_type desc="Public">PUBLIC</record_type>' in xml
    assert b"<user_identifiers><user_identifier " in xml
    assert b'<address_types><address_type desc="Home">home</address_type>' in xml
    assert b'preferred="true"' in xml
    assert b"<parameters><parameter>" in xml
    assert b"<user_blocks/>" in xml
    assert b"<country/>" in xml


def test_none_becomes_empty_element_and_no_attribute() -> None:
    element = dict_to_element(
        {"first_name": None, "gender": {"value": None, "desc": None}, "link": None}
    )
    assert to_bytes(element).endswith(b"<user><first_name/><gender/></user>")


def test_liberal_input_shapes_convert() -> None:
    data = {
        "user_identifier": {"value": "x", "status": {"value": "ACTIVE"}},  # one item, no list
        "contact_info": {"email": [{"preferred": "TRUE", "email_type": ["work"]}]},
        "unknown": [{"a": 1}, {"a": 2}],
    }
    back = element_to_dict(parse_xml(to_bytes(dict_to_element(data))))
    assert back["user_identifier"] == [{"value": "x", "status": "ACTIVE"}]
    assert back["contact_info"]["email"][0]["preferred"] is True
    assert back["contact_info"]["email"][0]["email_type"] == [{"value": "work", "desc": None}]
    assert back["unknown"] == [{"a": "1"}, {"a": "2"}]


def test_unknown_elements_are_kept_generically() -> None:
    doc = b'<user><x desc="D">v</x><y><z>1</z><z>2</z></y><w a="b">t</w></user>'
    assert element_to_dict(parse_xml(doc)) == {
        "x": {"value": "v", "desc": "D"},
        "y": {"z": ["1", "2"]},
        "w": "t",
    }


def test_repeated_text_element_becomes_a_list() -> None:
    assert element_to_dict(parse_xml(b"<user><a>1</a><a>2</a></user>")) == {"a": ["1", "2"]}


def test_namespaced_user_is_read_by_local_names() -> None:
    doc = b'<user xmlns="urn:x"><primary_id>p</primary_id><user_roles/></user>'
    assert element_to_dict(parse_xml(doc)) == {"primary_id": "p", "user_role": []}


def test_users_list_round_trip() -> None:
    data = {"user": [{"primary_id": "a", "link": "L"}], "total_record_count": 7}
    xml = to_bytes(users_dict_to_element(data))
    assert b'<users total_record_count="7"><user link="L"><primary_id>a' in xml
    assert users_element_to_dict(parse_xml(xml)) == data


def test_empty_users_list() -> None:
    xml = to_bytes(users_dict_to_element({"total_record_count": 0}))
    assert xml.endswith(b'<users total_record_count="0"/>')
    assert users_element_to_dict(parse_xml(xml)) == {"total_record_count": 0}


def test_users_list_with_bad_count() -> None:
    with pytest.raises(UnreadableRecord):
        users_element_to_dict(parse_xml(b'<users total_record_count="x"/>'))


def test_sis_style_users_without_count() -> None:
    data = users_element_to_dict(parse_xml(b"<users><user/><user/></users>"))
    assert data == {"user": [{}, {}], "total_record_count": 2}


@pytest.mark.parametrize(
    "data",
    [
        {"first_name": "bad\x01char"},
        {"gender": {"value": "M", "desc": "\x00"}},
        {"bad name": "x"},
        {"first_name": object()},
    ],
)
def test_values_xml_cannot_carry_raise_invalid_field_value(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidFieldValue):
        dict_to_element(data)


def test_whitespace_and_line_ends_survive_xml() -> None:
    data = {"first_name": "\t a\r\nb ", "link": "x\ny\tz\r"}
    assert element_to_dict(parse_xml(to_bytes(dict_to_element(data)))) == data
