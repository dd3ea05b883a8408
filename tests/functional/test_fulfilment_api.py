"""A user's fulfilment sub-resources (loans, requests, fees, deposits, resource-sharing and
purchase requests) answered in Alma's collection shapes, on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from lxml import etree

from tests.functional.conftest import Api
from tests.functional.test_users_api import body, create, error_code

USERS = "/almaws/v1/users"
SHAPES = {
    "loans": ("item_loans", "item_loan"),
    "requests": ("user_requests", "user_request"),
    "resource-sharing-requests": (
        "user_resource_sharing_requests", "user_resource_sharing_request"
    ),
    "fees": ("fees", "fee"),
    "deposits": ("user_deposits", "user_deposit"),
    "purchase-requests": ("purchase_requests", "purchase_request"),
}


@pytest.fixture
def jdoe(api: Api) -> str:
    assert create(api, body("jdoe")).status_code == 200
    return "jdoe"


@pytest.mark.parametrize("path", list(SHAPES))
def test_each_list_is_empty_in_alma_shape(api: Api, jdoe: str, path: str) -> None:
    as_json = api.client.get(f"{USERS}/{jdoe}/{path}", headers=api.h())
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    data = as_json.json()
    assert data["total_record_count"] == 0
    assert SHAPES[path][1] not in data
    as_xml = api.client.get(f"{USERS}/{jdoe}/{path}", headers=api.h(json=False))
    assert as_xml.status_code == 200
    root = etree.fromstring(as_xml.content)
    assert root.tag == SHAPES[path][0]
    assert root.get("total_record_count") == "0"
    # by barcode, as GET /users/{id} resolves it
    by_barcode = api.client.get(f"{USERS}/B-jdoe/{path}", headers=api.h())
    assert by_barcode.status_code == 200


def test_fees_carry_their_total(api: Api, jdoe: str) -> None:
    data = api.client.get(f"{USERS}/{jdoe}/fees", headers=api.h()).json()
    assert data == {"total_record_count": 0, "total_sum": 0.0}


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("loans", {"expand": "renewable", "limit": "100", "offset": "5", "order_by": "due_date",
                   "direction": "DESC", "loan_status": "Complete"}),
        ("requests", {"request_type": "HOLD", "status": "history", "limit": "0"}),
        ("fees", {"status": "CLOSED"}),
        ("deposits", {"order_by": "modification_date", "direction": "ASC", "status": "x"}),
        ("purchase-requests", {"status": "INREVIEW", "limit": "50"}),
        ("resource-sharing-requests", {"limit": "10", "offset": "0"}),
        ("loans", {"user_id_type": "BARCODE"}),
    ],
)
def test_documented_parameters_are_accepted(
    api: Api, jdoe: str, path: str, query: dict[str, str]
) -> None:
    user = "B-jdoe" if query.get("user_id_type") == "BARCODE" else jdoe
    r = api.client.get(f"{USERS}/{user}/{path}", params=query, headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["total_record_count"] == 0


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("loans", {"expand": "everything"}),
        ("loans", {"limit": "101"}),
        ("loans", {"direction": "SIDEWAYS"}),
        ("requests", {"request_type": "TELEPORT"}),
        ("fees", {"status": "OPEN"}),
        ("purchase-requests", {"offset": "-1"}),
    ],
)
def test_bad_parameters_get_40166411(
    api: Api, jdoe: str, path: str, query: dict[str, str]
) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/{path}", params=query, headers=api.h())
    assert r.status_code == 400 and error_code(r) == "40166411"


@pytest.mark.parametrize("path", list(SHAPES))
def test_an_unknown_user_gets_the_user_not_found_codes(api: Api, path: str) -> None:
    r = api.client.get(f"{USERS}/nobody/{path}", headers=api.h())
    assert r.status_code == 400 and error_code(r) == "401861"
    assert r.json()["errorList"]["error"][0]["errorMessage"].startswith(
        "User with identifier nobody was not found."
    )
    typed = api.client.get(
        f"{USERS}/nobody/{path}", params={"user_id_type": "BARCODE"}, headers=api.h()
    )
    assert error_code(typed) == "401890"


def test_other_institutions_users_are_not_seen(api: Api, jdoe: str) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/loans", headers=api.h(api.other_key))
    assert error_code(r) == "401861"


def test_a_key_without_the_users_area_is_refused(api: Api, jdoe: str) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/loans", headers=api.h(api.conf_key))
    assert r.status_code == 400 and error_code(r) == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("path", "code"),
    [("loans/123", "401823"), ("requests/9", "401907"), ("fees/7", "401665"),
     ("deposits/1", "402238"), ("purchase-requests/5", "60276"),
     ("resource-sharing-requests/3", "40166450")],
)
def test_one_entry_gets_the_kinds_not_found_code(api: Api, jdoe: str, path: str, code: str) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/{path}", headers=api.h())
    assert r.status_code == 400 and error_code(r) == code


def test_writes_are_refused_with_401859_and_need_a_write_key(api: Api, jdoe: str) -> None:
    r = api.client.post(f"{USERS}/{jdoe}/loans", params={"item_barcode": "X"}, headers=api.h())
    assert r.status_code == 400 and error_code(r) == "401859"
    assert "loans" in r.json()["errorList"]["error"][0]["errorMessage"]
    renew = api.client.post(f"{USERS}/{jdoe}/loans/1", params={"op": "renew"}, headers=api.h())
    assert error_code(renew) == "401859"
    pay = api.client.post(f"{USERS}/{jdoe}/fees/all", params={"op": "pay"}, headers=api.h())
    assert error_code(pay) == "401859"
    read_only = api.client.post(f"{USERS}/{jdoe}/loans", headers=api.h(api.ro_key))
    assert error_code(read_only) == "UNAUTHORIZED"


def test_an_unknown_sub_path_is_a_clear_404(api: Api, jdoe: str) -> None:
    r = api.client.get(f"{USERS}/{jdoe}/holdings", headers=api.h())
    assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
    message = r.json()["errorList"]["error"][0]["errorMessage"]
    assert "holdings" in message and "loans" in message
    assert "jdoe/holdings" not in message  # never "user jdoe/holdings not found"
    xml = api.client.get(f"{USERS}/{jdoe}/holdings", headers=api.h(json=False))
    assert xml.status_code == 404 and error_code(xml) == "NOT_FOUND"


def test_an_id_with_a_slash_still_reads_its_user(api: Api) -> None:
    assert create(api, body("dept/ann")).status_code == 200
    r = api.client.get(f"{USERS}/{quote('dept/ann', safe='')}", headers=api.h())
    assert r.status_code == 200 and r.json()["primary_id"] == "dept/ann"
    loans = api.client.get(f"{USERS}/dept/ann/loans", headers=api.h())
    assert loans.status_code == 200 and loans.json()["total_record_count"] == 0
    missing = api.client.get(f"{USERS}/dept/bob", headers=api.h())
    assert error_code(missing) == "401861"  # 'dept' is no user: an ID with a slash


def test_the_users_own_routes_still_answer(api: Api, jdoe: str) -> None:
    assert api.client.get(f"{USERS}/operation/test", headers=api.h()).status_code == 200
    assert api.client.get(f"{USERS}/{jdoe}", headers=api.h()).json()["primary_id"] == jdoe
