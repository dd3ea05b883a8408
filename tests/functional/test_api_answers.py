"""Issue 14 item 20 (part): 405 answers carry ``Allow``; ``operation/test`` is never a user ID;
``/bookplate/v1`` dates refuse numbers; JSON parse errors speak of JSON."""

from __future__ import annotations

from tests.functional.conftest import Api
from tests.functional.test_users_api import error_code


def test_405_answers_carry_allow(api: Api) -> None:
    r = api.client.post("/bookplate/v1/roles/types", headers=api.h())
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert error_code(r) == "METHOD_NOT_ALLOWED"


def test_operation_test_is_not_a_user_id(api: Api) -> None:
    for method in ("PUT", "DELETE"):
        r = api.client.request(method, "/almaws/v1/users/operation/test", headers=api.h(),
                               json={"primary_id": "x"} if method == "PUT" else None)
        assert r.status_code == 405, (method, r.text)
        assert r.headers["allow"] == "GET, POST"
        assert error_code(r) == "METHOD_NOT_ALLOWED"


def test_role_profile_dates_refuse_numbers(api: Api) -> None:
    from bookplate.keys.services import parse_areas

    _, key = api.container.keys.create("MAIN", "c", parse_areas(["conf:rw"]), 10_000)
    role = {"role_type": "200", "scope": "MAIN", "expiry_date": 0}
    r = api.client.put("/bookplate/v1/roles/profiles/P", json={"name": "P", "roles": [role]},
                       headers=api.h(key))
    assert r.status_code == 400, r.text
    assert error_code(r) == "40166411"
    role["expiry_date"] = "2030-08-30"
    ok = api.client.put("/bookplate/v1/roles/profiles/P", json={"name": "P", "roles": [role]},
                        headers=api.h(key))
    assert ok.status_code == 200, ok.text
    assert ok.json()["roles"][0]["expiry_date"] == "2030-08-30"


def test_a_json_parse_error_speaks_of_json(api: Api) -> None:
    r = api.client.post("/almaws/v1/users", content=b'{"primary_id": ',
                        headers={**api.h(), "Content-Type": "application/json"})
    assert (r.status_code, error_code(r)) == (400, "401676")
    message = r.json()["errorList"]["error"][0]["errorMessage"]
    assert message.startswith("No valid JSON was given.")
    x = api.client.post("/almaws/v1/users", content=b"<user><primary_id>",
                        headers={**api.h(), "Content-Type": "application/xml"})
    assert x.json()["errorList"]["error"][0]["errorMessage"].startswith("No valid XML")
