"""Staff edits of an external user's protected fields survive the next SIS sync, whatever the
write path (API key, staff bearer token), on SQLite and PostgreSQL (issue 13, item 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bookplate.roles.model import Library
from bookplate.sis.model import Profile
from bookplate.users.model import Role, User, UserInput
from tests.functional.conftest import Api
from tests.integration.sis.helpers import user_xml, users_doc

LANGUAGE = "<preferred_language>en</preferred_language>"


def sis_file(tmp_path: Path, name: str, *records: str) -> Path:
    path = tmp_path / name
    path.write_bytes(users_doc(*records))
    return path


def sync(api: Api, path: Path) -> dict[str, int]:
    report = api.container.sis.run("MAIN", "SIS", path)
    assert report.status == "done", report.message
    return dict(report.counts)


@pytest.fixture
def loaded(api: Api, tmp_path: Path) -> Path:
    """A SIS profile and one external user it loaded (UNDERGRAD, English); the file is
    returned so a test can run the very same file again."""
    c = api.container
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    first = sis_file(tmp_path, "day1.xml", user_xml("ext1", group="UNDERGRAD", extra=LANGUAGE))
    assert sync(api, first)["create"] == 1
    return first


@pytest.fixture
def manager_token(api: Api) -> str:
    c = api.container
    c.roles.put_library("MAIN", Library("LIB_A", "Library A", frozenset({"DESK_A"})), "test")
    c.users.create(
        "MAIN",
        UserInput(
            User(
                "manager",
                record_type="STAFF",
                user_group="STAFF",
                last_name="Manager",
                roles=[Role("21", "MAIN")],
            )
        ),
        "t",
    )
    return api.container.tokens.issue("MAIN", "manager")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def staff_edit(api: Api, headers: dict[str, str]) -> Any:
    """GET, change user_group and preferred_language, PUT back (Alma's recommended pattern)."""
    record = api.client.get("/almaws/v1/users/ext1", headers=headers).json()
    assert record["user_group"]["value"] == "UNDERGRAD"
    record["user_group"] = {"value": "GRAD"}
    record["preferred_language"] = {"value": "de"}
    put = api.client.put("/almaws/v1/users/ext1", json=record, headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["user_group"]["value"] == "GRAD"
    return put.json()


def assert_staff_values(api: Api) -> None:
    user = api.container.users.get("MAIN", "ext1")
    assert (user.user_group, user.preferred_language) == ("GRAD", "de")
    assert user.manual_fields == {"user_group": "UNDERGRAD", "preferred_language": "en"}


@pytest.mark.parametrize("path", ["api_key", "staff_token"])
def test_staff_put_survives_the_next_sync(
    api: Api, loaded: Path, manager_token: str, tmp_path: Path, path: str
) -> None:
    headers = api.h() if path == "api_key" else bearer(manager_token)
    staff_edit(api, headers)
    assert_staff_values(api)
    # The nightly file again, unchanged: the SIS still says UNDERGRAD / en.
    sync(api, loaded)
    assert_staff_values(api)
    # The SIS changes something else of the record: the staff values still stand.
    changed = sis_file(
        tmp_path, "day2.xml", user_xml("ext1", last="Park", group="UNDERGRAD", extra=LANGUAGE)
    )
    assert sync(api, changed)["update"] == 1
    user = api.container.users.get("MAIN", "ext1")
    assert user.last_name == "Park"
    assert (user.user_group, user.preferred_language) == ("GRAD", "de")
    # The SIS sends another group: still the staff value (docs/alma-compatibility.md).
    sync(api, sis_file(tmp_path, "day3.xml", user_xml("ext1", group="FACULTY", extra=LANGUAGE)))
    assert api.container.users.get("MAIN", "ext1").user_group == "GRAD"


def test_staff_put_of_a_field_already_changed_by_hand_with_override(
    api: Api, loaded: Path, manager_token: str
) -> None:
    """A second staff change of a field already manual: without ``override`` the stored
    (manual) value stays, as Alma's PUT does; with it the new value is set and is still a
    staff value the SIS keeps; sending the SIS's own value re-attaches the field."""
    staff_edit(api, api.h())
    record = api.client.get("/almaws/v1/users/ext1", headers=api.h()).json()
    record["user_group"] = {"value": "FACULTY"}
    kept = api.client.put("/almaws/v1/users/ext1", json=record, headers=bearer(manager_token))
    assert kept.json()["user_group"]["value"] == "GRAD"
    forced = api.client.put(
        "/almaws/v1/users/ext1?override=user_group", json=record, headers=bearer(manager_token)
    )
    assert forced.json()["user_group"]["value"] == "FACULTY"
    user = api.container.users.get("MAIN", "ext1")
    assert user.manual_fields["user_group"] == "UNDERGRAD"  # the SIS's last value, still
    sync(api, loaded)
    assert api.container.users.get("MAIN", "ext1").user_group == "FACULTY"
    # Back to the SIS's value: attached again, and the next SIS value wins.
    record["user_group"] = {"value": "UNDERGRAD"}
    api.client.put("/almaws/v1/users/ext1?override=user_group", json=record, headers=api.h())
    assert "user_group" not in api.container.users.get("MAIN", "ext1").manual_fields


def test_internal_users_have_no_manual_fields(api: Api, manager_token: str) -> None:
    """Only external users are synchronised: a staff PUT of an internal user marks nothing."""
    from tests.functional.test_users_api import body, create

    assert create(api, body("int1")).status_code == 200
    record = api.client.get("/almaws/v1/users/int1", headers=api.h()).json()
    record["user_group"] = {"value": "GRAD"}
    put = api.client.put("/almaws/v1/users/int1", json=record, headers=bearer(manager_token))
    assert put.status_code == 200, put.text
    user = api.container.users.get("MAIN", "int1")
    assert user.user_group == "GRAD" and user.manual_fields == {}


def test_a_bad_bearer_token_answers_401866(api: Api, manager_token: str) -> None:
    """Forged, revoked and non-staff bearer tokens: HTTP 401 with Alma's 401866
    (docs/authentication.md), in the caller's format, on reads and writes alike."""
    c = api.container
    token_id = c.tokens.issue("MAIN", "manager")
    c.tokens.revoke(token_id[0])
    for token in ("bpt_nope_x", token_id[1], "not-a-staff-token", "bpt_" + "x" * 300):
        for method, url in (("GET", "/almaws/v1/users"), ("PUT", "/almaws/v1/users/manager"),
                            ("GET", "/bookplate/v1/sis/runs")):
            r = api.client.request(method, url, headers=bearer(token), json={})
            assert r.status_code == 401, (token, url, r.text)
            err = r.json()["errorList"]["error"][0]
            assert err["errorCode"] == "401866"
            assert err["errorMessage"] == "User authentication failed"
    xml = api.client.get("/almaws/v1/users", headers={"Authorization": "Bearer bpt_nope_x"})
    assert xml.status_code == 401 and b"<errorCode>401866</errorCode>" in xml.content
    # A live token still works.
    assert api.client.get("/almaws/v1/users", headers=bearer(manager_token)).status_code == 200
