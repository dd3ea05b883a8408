"""Issue 14 item 14: every text input of every API gets the Users API's checks.

A NUL byte cannot be stored by PostgreSQL (it answered 500) and was stored as-is by SQLite;
every path below must answer a 400 in Alma's format and store nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import Api

BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/bookplate/v1/libraries/X", {"name": "a\u0000b"}),
    ("/bookplate/v1/libraries/X", {"name": "ok", "circulation_desks": ["d\u0001"]}),
    ("/bookplate/v1/roles/profiles/P", {"name": "a\u0000b"}),
    ("/bookplate/v1/roles/restricted", {"user_groups": ["a\u0000"]}),
    ("/bookplate/v1/sis/profiles/S", {"description": "a\u0000b"}),
    ("/bookplate/v1/sis/profiles/S", {"csv": {"columns": {"ID\u0000": "primary_id"}}}),
]


def conf_key(api: Api) -> str:
    from bookplate.keys.services import parse_areas

    _, key = api.container.keys.create(
        "MAIN", "conf-rw", parse_areas(["users:rw", "conf:rw"]), 10_000
    )
    return key


@pytest.mark.parametrize(("path", "payload"), BODIES)
def test_control_characters_in_bookplate_v1_bodies_are_refused(
    api: Api, path: str, payload: dict[str, Any]
) -> None:
    key = conf_key(api)
    r = api.client.put(path, json=payload, headers=api.h(key))
    assert r.status_code == 400, r.text
    error = r.json()["errorList"]["error"][0]
    assert error["errorCode"] in ("40166404", "40166411")
    assert "control characters" in error["errorMessage"]
    # nothing was stored
    listed = api.client.get(path.rsplit("/", 1)[0], headers=api.h(key)).json()
    assert "a\u0000b" not in str(listed)


def test_the_refusal_comes_in_xml_to_an_xml_caller(api: Api) -> None:
    r = api.client.get("/almaws/v1/users/a%00b", headers=api.h(json=False))
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/xml"
    assert b"<errorCode>40166411</errorCode>" in r.content


def test_a_rule_naming_a_profile_with_a_nul_is_refused(api: Api) -> None:
    key = conf_key(api)
    r = api.client.put("/bookplate/v1/roles/rules/R", json={"profile": "a\u0000"},
                       headers=api.h(key))
    assert (r.status_code, r.json()["errorList"]["error"][0]["errorCode"]) == (400, "40166404")


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/bookplate/v1/sis/runs?profile=a%00b", "profile"),
        ("/almaws/v1/users?source_user_id=a%00b", "source_user_id"),
        ("/almaws/v1/users?q=last_name~a%01b", "q"),
        ("/almaws/v1/users/a%00b", "path"),
        ("/almaws/v1/conf/code-tables/a%00b", "path"),
    ],
)
def test_control_characters_in_paths_and_query_parameters_are_refused(
    api: Api, path: str, parameter: str
) -> None:
    r = api.client.get(path, headers=api.h())
    assert r.status_code == 400, r.text
    error = r.json()["errorList"]["error"][0]
    assert error["errorCode"] == "40166411"
    assert error["errorMessage"] == f"The parameter {parameter} is invalid."


def test_tab_and_line_feed_stay_allowed_in_query_parameters(api: Api) -> None:
    r = api.client.get("/almaws/v1/users?q=last_name~a%09b", headers=api.h())
    assert r.status_code == 200, r.text


def test_an_upload_file_name_with_a_nul_is_refused_and_no_run_is_made(api: Api) -> None:
    key = conf_key(api)
    assert api.client.put("/bookplate/v1/sis/profiles/S", json={},
                          headers=api.h(key)).status_code in (200, 201)
    r = api.client.post(
        "/bookplate/v1/sis/profiles/S/runs?filename=a%00b.xml",
        content=b"<users></users>",
        headers={**api.h(key), "Content-Type": "application/xml"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["errorList"]["error"][0]["errorMessage"] == (
        "The parameter filename is invalid."
    )
    assert api.client.get("/bookplate/v1/sis/runs", headers=api.h(key)).json()["run"] == []
