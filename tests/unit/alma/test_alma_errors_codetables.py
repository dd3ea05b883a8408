"""Error envelope and code-table bodies."""

from __future__ import annotations

import json

from bookplate.alma.codetables import code_table_to_json, code_table_to_xml
from bookplate.alma.errors import XMLBEANS_NS, error_body_json, error_body_xml
from bookplate.alma.xml import parse_xml
from bookplate.users.ports import CodeRow


def test_error_json_envelope() -> None:
    body = error_body_json(
        [(401861, "User with identifier X was not found.", "E01-1"), ("402119", "m", None)]
    )
    assert json.loads(body) == {
        "errorsExist": True,
        "errorList": {
            "error": [
                {
                    "errorCode": "401861",
                    "errorMessage": "User with identifier X was not found.",
                    "trackingId": "E01-1",
                },
                {"errorCode": "402119", "errorMessage": "m"},
            ]
        },
        "result": None,
    }


def test_single_error_is_still_a_list() -> None:
    data = json.loads(error_body_json([("401664", "Mandatory field is missing: x", "t")]))
    assert isinstance(data["errorList"]["error"], list)
    assert isinstance(data["errorList"]["error"][0]["errorCode"], str)


def test_error_xml_envelope() -> None:
    body = error_body_xml([("401861", "User with identifier <a&b> was not found.", "E01")])
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert (
        b'<web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans">'
        b"<errorsExist>true</errorsExist><errorList><error><errorCode>401861</errorCode>"
        b"<errorMessage>User with identifier &lt;a&amp;b&gt; was not found.</errorMessage>"
        b"<trackingId>E01</trackingId></error></errorList></web_service_result>"
    ) in body
    root = parse_xml(body)
    assert root.tag == f"{{{XMLBEANS_NS}}}web_service_result"


def test_error_xml_drops_characters_xml_cannot_hold() -> None:
    body = error_body_xml([("40166404", "Given field x has invalid value a\x01b", "t")])
    assert b"value ab</errorMessage>" in body


def test_code_table_json_and_xml() -> None:
    rows = [CodeRow("UNDERGRAD", "Undergraduate", default=True), CodeRow("OLD", "Old", False)]
    data = json.loads(code_table_to_json("UserGroups", "User groups", rows))
    assert data == {
        "name": "UserGroups",
        "description": "User groups",
        "row": [
            {"code": "UNDERGRAD", "description": "Undergraduate", "default": True, "enabled": True},
            {"code": "OLD", "description": "Old", "default": False, "enabled": False},
        ],
    }
    xml = code_table_to_xml("UserGroups", "User groups", rows)
    assert xml.endswith(
        b"<code_table><name>UserGroups</name><description>User groups</description><rows>"
        b"<row><code>UNDERGRAD</code><description>Undergraduate</description>"
        b"<default>true</default><enabled>true</enabled></row>"
        b"<row><code>OLD</code><description>Old</description>"
        b"<default>false</default><enabled>false</enabled></row></rows></code_table>"
    )


def test_empty_code_table() -> None:
    assert json.loads(code_table_to_json("X", "", []))["row"] == []
    assert b"<rows/>" in code_table_to_xml("X", "", [])
