"""The direct ``<user>`` element reader gives exactly what the general reader gives (depth check,
``element_to_dict``, ``user_from_dict``) or steps aside (``None``); plain SIS records go the
direct way."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from bookplate.alma.element import user_from_element
from bookplate.alma.tree import element_to_dict
from bookplate.alma.user import user_from_dict
from bookplate.alma.xml import check_depth, safe_parser
from bookplate.users.errors import InputError
from bookplate.users.model import User

SAMPLES = Path("/work/shared/alma/samples")


def general(element: Any) -> User | str:
    """The general reader's user, or "error" when it refuses the element."""
    try:
        check_depth(element)
        return user_from_dict(element_to_dict(element)).user
    except (InputError, ValueError, TypeError):
        return "error"


def parse(xml: str | bytes) -> Any:
    data = xml.encode() if isinstance(xml, str) else xml
    return etree.fromstring(data, safe_parser())


def agree(element: Any) -> User | None:
    fast = user_from_element(element)
    slow = general(element)
    if fast is not None:
        assert slow == fast, etree.tostring(element)
    return fast


PLAIN = (
    '<user><record_type desc="Public">PUBLIC</record_type><primary_id>s1</primary_id>'
    "<first_name>Zoë</first_name><middle_name/><last_name> Müller </last_name>"
    "<full_name>Zoë Müller</full_name>"
    '<user_group desc="Grad">GRAD</user_group><expiry_date>2030-08-30Z</expiry_date>'
    "<purge_date>2031-01-01</purge_date><account_type>EXTERNAL</account_type>"
    "<external_id>SIS</external_id><status>ACTIVE</status>"
    "<force_password_change>TRUE</force_password_change><contact_info><addresses>"
    '<address segment_type="External" preferred="true"><line1>1 Main St</line1>'
    '<city>Portland</city><country desc="United States">USA</country>'
    "<start_date>2020-01-01Z</start_date>"
    "<address_types><address_type>home</address_type><address_type/></address_types>"
    '</address></addresses><emails><email preferred=" False " segment_type="external">'
    "<email_address>z@example.edu</email_address><email_types><email_type>school"
    "</email_type></email_types></email></emails><phones>"
    '<phone preferred="true" preferred_sms="false"><phone_number>+1 503</phone_number>'
    "<phone_types><phone_type>mobile</phone_type></phone_types></phone></phones>"
    "</contact_info><user_identifiers>"
    '<user_identifier segment_type="External"><id_type desc="Barcode">BARCODE</id_type>'
    "<value>21001</value><status>ACTIVE</status></user_identifier></user_identifiers>"
    "<user_roles><user_role><status>ACTIVE</status><scope>MAIN</scope>"
    "<role_type>200</role_type><parameters><parameter><type>X</type></parameter>"
    "</parameters></user_role></user_roles>"
    '<user_notes><user_note segment_type="Internal"><note_type>CIRC</note_type>'
    "<note_text>hi</note_text><user_viewable>true</user_viewable>"
    "<created_date>2024-05-30T09:30:10Z</created_date></user_note></user_notes>"
    "<user_blocks><user_block><block_type>GENERAL</block_type>"
    "<expiry_date>2030-01-01T00:00:00+02:00</expiry_date></user_block></user_blocks>"
    "<user_statistics><user_statistic><statistic_category>ENG</statistic_category>"
    "</user_statistic></user_statistics><user_statistics/></user>"
)


def test_a_plain_record_is_read_directly_and_equally() -> None:
    user = agree(parse(PLAIN))
    assert user is not None
    assert user.last_name == " Müller "
    assert user.force_password_change is True
    assert [s.statistic_category for s in user.statistics] == ["ENG"]


@pytest.mark.parametrize(
    "change",
    [
        ("<first_name>Zoë</first_name>", '<first_name desc="x">Zoë</first_name>'),
        ("<first_name>Zoë</first_name>", "<first_name><b>Zoë</b></first_name>"),
        ("<first_name>Zoë</first_name>", "<first_name>Zoë</first_name><first_name/>"),
        ("<expiry_date>2030-08-30Z", "<expiry_date>2030-13-30Z"),
        ("<user_viewable>true", "<user_viewable> maybe"),
        ("<user_viewable>true", "<user_viewable> "),
        ('preferred=" False "', 'preferred="yes"'),
        ('segment_type="external"', 'segment_type="Other"'),
        ('segment_type="external"', 'segment_type="external" value="x"'),
        ("<full_name>Zoë Müller</full_name>", "<full_name><a>deep</a></full_name>"),
        (
            "<full_name>Zoë Müller</full_name>",
            "<user_identifier><value>x</value></user_identifier>",
        ),
        ("<address_type>home</address_type>", "<other>home</other>"),
        ("<contact_info>", '<contact_info email="x">'),
        ("</contact_info>", "</contact_info><contact_info/>"),
        ("<force_password_change>TRUE", "<force_password_change>perhaps"),
        (
            "<user_blocks>",
            "<rs_libraries><rs_library><code>A</code></rs_library></rs_libraries><user_blocks>",
        ),
        ("<user>", '<user primary_id="x">'),
        ("<value>21001</value>", "<value>21001</value><segment_type>External</segment_type>"),
    ],
)
def test_unusual_records_are_left_to_the_general_reader(change: tuple[str, str]) -> None:
    old, new = change
    assert old in PLAIN
    element = parse(PLAIN.replace(old, new, 1))
    assert user_from_element(element) is None
    general(element)  # the general reader decides (a user or an error)


def test_unknown_attributes_and_leaves_are_ignored_as_the_general_reader_does() -> None:
    xml = PLAIN.replace("<user>", '<user link="http://x" xmlns:a="urn:a">', 1).replace(
        "<middle_name/>", "<middle_name/><a:unknown>x</a:unknown><is_researcher>x</is_researcher>"
    )
    assert agree(parse(xml)) is not None


def test_deep_nesting_is_left_to_the_depth_check() -> None:
    deep = "<x>" * 70 + "</x>" * 70
    element = parse(PLAIN.replace("<full_name>Zoë Müller</full_name>", f"<foo>{deep}</foo>"))
    assert user_from_element(element) is None
    assert general(element) == "error"


def test_the_sis_template_sample_is_read_directly() -> None:
    jinja2 = pytest.importorskip("jinja2")
    path = SAMPLES / "10-sis-load-template-pdx.xml.j2"
    if not path.exists():
        pytest.skip("samples not available")
    patron = {
        "barcode": "B1",
        "first_name": "Ann",
        "middle_name": "",
        "last_name": "Lee",
        "patron_type": "GRAD",
        "expdate": "2030-08-30Z",
        "purge_date": "2031-08-30Z",
        "address_line1": "1 Main",
        "city": "Portland",
        "state": "OR",
        "zip_code": "97201",
        "address_type": "home",
        "email": "a@b.edu",
        "email_address_type": "school",
        "telephone": "503",
        "telephone_type": "mobile",
        "telephone2": "504",
        "telephone2_type": "home",
        "username": "ALEE",
        "department_code": "",
    }
    other = {**patron, "barcode": "B2", "middle_name": "Q", "department_code": "ENG"}
    text = jinja2.Template(path.read_text()).render(patron_data={"1": patron, "2": other})
    root = parse(text.encode())
    users = [agree(child) for child in root]
    assert len(users) == 2
    assert all(u is not None for u in users)


def _bench_user(i: int) -> bytes:
    from bench.sis import user_xml

    return user_xml(i, random.Random(i), variant=i % 2).encode()


@pytest.mark.parametrize("i", range(5))
def test_benchmark_records_are_read_directly(i: int) -> None:
    assert agree(parse(_bench_user(i))) is not None


# --- generated records: both readers agree whatever the shape ----------------------------

_VALUES = [
    "",
    " ",
    "x",
    "TRUE",
    " false ",
    "External",
    "internal",
    "bogus",
    "2030-08-30Z",
    "2030-13-01",
    "2024-05-30T09:30:10Z",
    "12",
]
_ATTRS = ["desc", "segment_type", "preferred", "preferred_sms", "link", "value", "foo"]
_USER_NAMES = [
    "primary_id",
    "first_name",
    "user_group",
    "status",
    "expiry_date",
    "birth_date",
    "force_password_change",
    "password",
    "full_name",
    "foo",
    "user_identifier",
    "contact_info",
    "user_identifiers",
    "user_roles",
    "user_notes",
    "user_blocks",
    "user_statistics",
    "rs_libraries",
]
_CHILDREN: dict[str, tuple[str, list[str]]] = {
    "contact_info": ("", ["addresses", "emails", "phones", "email", "foo"]),
    "addresses": ("address", []),
    "emails": ("email", []),
    "phones": ("phone", []),
    "user_identifiers": ("user_identifier", []),
    "user_roles": ("user_role", []),
    "user_notes": ("user_note", []),
    "user_blocks": ("user_block", []),
    "user_statistics": ("user_statistic", []),
    "rs_libraries": ("rs_library", []),
}
_ITEM_NAMES: dict[str, list[str]] = {
    "address": [
        "line1",
        "city",
        "country",
        "start_date",
        "preferred",
        "address_types",
        "address_type",
        "segment_type",
        "foo",
    ],
    "email": ["email_address", "preferred", "email_types", "description"],
    "phone": ["phone_number", "preferred_sms", "phone_types"],
    "user_identifier": ["id_type", "value", "status", "note", "segment_type"],
    "user_role": ["role_type", "scope", "expiry_date", "parameters"],
    "user_note": ["note_type", "note_text", "user_viewable", "created_date"],
    "user_block": ["block_type", "expiry_date", "block_status"],
    "user_statistic": ["statistic_category", "category_type"],
    "rs_library": ["code"],
    "parameters": ["parameter"],
}
_CODE_LISTS = {
    "address_types": "address_type",
    "email_types": "email_type",
    "phone_types": "phone_type",
}


def _fill(data: st.DataObject, element: Any, names: list[str], depth: int) -> None:
    for _ in range(data.draw(st.integers(0, 4))):
        name = data.draw(st.sampled_from(names))
        child = etree.SubElement(element, name)
        for _ in range(data.draw(st.integers(0, 1))):
            child.set(data.draw(st.sampled_from(_ATTRS)), data.draw(st.sampled_from(_VALUES)))
        if depth > 3:
            child.text = data.draw(st.sampled_from(_VALUES))
            continue
        if name in _CHILDREN:
            item, more = _CHILDREN[name]
            _fill(data, child, ([item] if item else []) + more, depth + 1)
        elif name in _ITEM_NAMES:
            _fill(data, child, _ITEM_NAMES[name], depth + 1)
        elif name in _CODE_LISTS:
            _fill(data, child, [_CODE_LISTS[name], "x"], depth + 1)
        elif data.draw(st.integers(0, 9)) == 0:
            etree.SubElement(child, "nested").text = "n"
        else:
            child.text = data.draw(st.sampled_from(_VALUES))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_records_give_the_same_user_or_step_aside(data: st.DataObject) -> None:
    root = etree.Element("user")
    _fill(data, root, _USER_NAMES, 0)
    element = parse(etree.tostring(root))
    agree(element)
