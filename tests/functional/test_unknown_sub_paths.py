"""Every method on an unknown sub-path of ``/almaws/v1/users/{id}/...`` answers a clear 404
(NOT_FOUND) in the caller's format, never "user 'jdoe/holdings' not found", never an error
about the body or the op, and writes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from tests.functional.conftest import Api
from tests.functional.test_users_api import body, create, error_code

USERS = "/almaws/v1/users"
METHODS = ("GET", "PUT", "POST", "DELETE")
SUB_PATHS = ("fees/1/extra", "attachments", "x" * 240, "'; DROP TABLE users; --<b>")


@pytest.fixture
def jdoe(api: Api) -> str:
    assert create(api, body("jdoe")).status_code == 200
    return "jdoe"


def _call(api: Api, method: str, path: str, json: bool, **extra: Any) -> Any:
    headers = api.h(json=json)
    if method == "PUT":
        # A body that would be refused on its own: the sub-path must be the error named.
        headers["Content-Type"] = "application/json" if json else "application/xml"
        return api.client.request(method, path, content=b"{not json", headers=headers, **extra)
    return api.client.request(method, path, headers=headers, **extra)


def _message(response: Any, json: bool) -> str:
    if json:
        return str(response.json()["errorList"]["error"][0]["errorMessage"])
    root = etree.fromstring(response.content)
    return str(root.findtext(".//{*}errorMessage"))


@pytest.mark.parametrize("json", [True, False], ids=["json", "xml"])
@pytest.mark.parametrize("method", METHODS)
def test_each_method_names_the_unknown_sub_path(
    api: Api, jdoe: str, method: str, json: bool
) -> None:
    r = _call(api, method, f"{USERS}/{jdoe}/holdings", json)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json" if json else "application/xml")
    assert error_code(r) == "NOT_FOUND"
    message = _message(r, json)
    assert f"{method} /almaws/v1/users/{{user_id}}/holdings" in message
    assert "jdoe/holdings" not in message and "loans" in message
    assert api.client.get(f"{USERS}/{jdoe}", headers=api.h()).status_code == 200  # untouched


@pytest.mark.parametrize("sub", SUB_PATHS, ids=lambda s: s[:20])
@pytest.mark.parametrize("method", METHODS)
def test_odd_sub_paths_are_404_never_500(api: Api, jdoe: str, method: str, sub: str) -> None:
    r = _call(api, method, f"{USERS}/{jdoe}/{sub}", True)
    assert r.status_code == 404, r.text
    assert error_code(r) == "NOT_FOUND"
    message = _message(r, True)
    assert len(message) < 600  # a huge path is cut, not echoed
    assert f"{jdoe}/" not in message


@pytest.mark.parametrize("method", METHODS)
def test_a_huge_path_is_a_parameter_error(api: Api, jdoe: str, method: str) -> None:
    r = _call(api, method, f"{USERS}/{jdoe}/{'x' * 5000}", True)
    assert r.status_code == 400 and error_code(r) == "40166411"  # user_id over 255 characters
    assert len(_message(r, True)) < 200


def test_documented_but_unserved_resources_say_so(api: Api, jdoe: str) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/personal-data", headers=api.h())
    assert "not served by Bookplate" in _message(r, True)
    # a known list with a method Alma does not document for it
    d = api.client.delete(f"{USERS}/{jdoe}/loans", headers=api.h())
    assert d.status_code == 404 and "keeps no loans" in _message(d, True)


def test_post_op_auth_and_refresh_on_a_sub_path(api: Api, jdoe: str) -> None:
    for op in ("auth", "refresh", "bogus"):
        r = api.client.post(f"{USERS}/{jdoe}/holdings", params={"op": op}, headers=api.h())
        assert r.status_code == 404 and error_code(r) == "NOT_FOUND", (op, r.text)


def test_write_sub_paths_still_need_a_write_key(api: Api, jdoe: str) -> None:
    for method in ("PUT", "DELETE"):
        r = api.client.request(method, f"{USERS}/{jdoe}/holdings", headers=api.h(api.ro_key))
        assert error_code(r) == "UNAUTHORIZED"
    other = api.client.delete(f"{USERS}/{jdoe}/holdings", headers=api.h(api.other_key))
    assert error_code(other) == "401861"  # jdoe is no user of OTHER: nothing leaks


def test_ids_with_a_slash_are_still_written(api: Api) -> None:
    assert create(api, body("dept")).status_code == 200
    assert create(api, body("dept/ann")).status_code == 200
    put = api.client.put(f"{USERS}/dept/ann", json=body("dept/ann", first_name="Ann"),
                         headers=api.h())
    assert put.status_code == 200 and put.json()["first_name"] == "Ann"
    auth = api.client.post(f"{USERS}/dept/ann", params={"op": "auth"},
                           headers={**api.h(), "Exl-User-Pw": "wrong"})
    assert error_code(auth) == "401866"  # the user exists: the password is what failed
    assert api.client.delete(f"{USERS}/dept/ann", headers=api.h()).status_code == 204
    gone = api.client.delete(f"{USERS}/dept/ann", headers=api.h())
    assert gone.status_code == 404 and error_code(gone) == "NOT_FOUND"  # now a sub-path of dept
    nobody = api.client.delete(f"{USERS}/nobody/ann", headers=api.h())
    assert error_code(nobody) == "401861"  # 'nobody' is no user: an ID with a slash
