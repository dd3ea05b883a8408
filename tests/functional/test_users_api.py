"""The Alma Users API through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from lxml import etree

from tests.functional.conftest import Api

NS = "{http://com/exlibris/urm/general/xmlbeans}"


def body(primary_id: str = "jdoe", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record_type": {"value": "PUBLIC"},
        "primary_id": primary_id,
        "first_name": "Jane",
        "last_name": "Doe",
        "account_type": {"value": "INTERNAL"},
        "status": {"value": "ACTIVE"},
        "user_group": {"value": "UNDERGRAD"},
        "expiry_date": "2030-08-30Z",
        "contact_info": {
            "email": [
                {
                    "email_address": f"{abs(hash(primary_id))}@example.edu",
                    "preferred": True,
                    "email_type": [{"value": "school"}],
                }
            ]
        },
        "user_identifier": [{"id_type": {"value": "BARCODE"}, "value": f"B-{primary_id}"}],
    }
    data.update(extra)
    return data


def create(api: Api, data: dict[str, Any]) -> Any:
    return api.client.post("/almaws/v1/users", json=data, headers=api.h())


def error_code(response: Any) -> str:
    if "json" in response.headers["content-type"]:
        payload = response.json()
        assert payload["errorsExist"] is True
        assert isinstance(payload["errorList"]["error"], list)
        err = payload["errorList"]["error"][0]
        assert isinstance(err["errorCode"], str)
        assert err["trackingId"]
        return str(err["errorCode"])
    root = etree.fromstring(response.content)
    assert root.tag == f"{NS}web_service_result"
    assert root.findtext(f"{NS}errorsExist") == "true"
    assert root.findtext(f".//{NS}trackingId")
    return str(root.findtext(f".//{NS}errorCode"))


def test_create_and_read_back_json(api: Api) -> None:
    r = create(api, body(password="a-long-passphrase"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    user = r.json()
    assert user["primary_id"] == "jdoe"
    assert user["password"] == ""
    assert user["record_type"]["value"] == "PUBLIC"
    assert user["record_type"]["desc"] == "Public"
    assert user["expiry_date"] == "2030-08-30Z"
    assert user["contact_info"]["email"][0]["preferred"] is True
    assert user["contact_info"]["email"][0]["segment_type"] == "Internal"
    assert user["created_date"].endswith("Z")
    again = api.client.get("/almaws/v1/users/JDOE", headers=api.h())
    assert again.status_code == 200
    assert again.json()["user_identifier"] == user["user_identifier"]


def test_xml_is_the_default(api: Api) -> None:
    create(api, body())
    r = api.client.get("/almaws/v1/users/jdoe", headers=api.h(json=False))
    assert r.headers["content-type"] == "application/xml"
    root = etree.fromstring(r.content)
    assert root.tag == "user"
    assert root.find("record_type").get("desc") == "Public"
    assert root.find("user_identifiers/user_identifier/value").text == "B-jdoe"
    assert (
        api.client.get("/almaws/v1/users/jdoe?format=json", headers=api.h(json=False)).json()[
            "primary_id"
        ]
        == "jdoe"
    )


def test_create_from_xml(api: Api) -> None:
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<user><record_type>PUBLIC</record_type><primary_id>xmluser</primary_id>
<first_name>X</first_name><last_name>Ml</last_name><user_group>GRAD</user_group>
<account_type>INTERNAL</account_type><status>ACTIVE</status>
<contact_info><emails><email preferred="true"><email_address>x@example.edu</email_address>
<email_types><email_type>work</email_type></email_types></email></emails></contact_info>
</user>"""
    r = api.client.post(
        "/almaws/v1/users",
        content=xml,
        headers={**api.h(json=False), "Content-Type": "application/xml"},
    )
    assert r.status_code == 200, r.text
    root = etree.fromstring(r.content)
    assert root.find("contact_info/emails/email").get("preferred") == "true"


def test_lookup_by_identifier_and_type(api: Api) -> None:
    create(api, body())
    assert api.client.get("/almaws/v1/users/b-JDOE", headers=api.h()).status_code == 200
    typed = api.client.get("/almaws/v1/users/B-jdoe?user_id_type=BARCODE", headers=api.h())
    assert typed.json()["primary_id"] == "jdoe"
    wrong = api.client.get("/almaws/v1/users/B-jdoe?user_id_type=UNIV_ID", headers=api.h())
    assert wrong.status_code == 400
    assert error_code(wrong) == "401890"


def test_not_found_is_400_401861_in_both_formats(api: Api) -> None:
    r = api.client.get("/almaws/v1/users/nobody", headers=api.h())
    assert r.status_code == 400
    assert error_code(r) == "401861"
    assert r.json()["errorList"]["error"][0]["errorMessage"].startswith(
        "User with identifier nobody was not found."
    )
    x = api.client.get("/almaws/v1/users/nobody", headers=api.h(json=False))
    assert x.status_code == 400
    assert error_code(x) == "401861"


@pytest.mark.parametrize("primary_id", ["with space", "a@b.edu", "slash/ed", "ünï©ødé"])
def test_ids_with_odd_characters(api: Api, primary_id: str) -> None:
    assert create(api, body(primary_id)).status_code == 200
    r = api.client.get(f"/almaws/v1/users/{quote(primary_id, safe='')}", headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["primary_id"] == primary_id


def test_duplicates(api: Api) -> None:
    assert create(api, body("Ann")).status_code == 200
    r = create(api, body("aNN"))
    assert (r.status_code, error_code(r)) == (400, "401851")
    clash = body("bob")
    clash["user_identifier"] = [{"id_type": {"value": "BARCODE"}, "value": "b-ann"}]
    assert error_code(create(api, clash)) == "401851"
    # the clash is found by the database after the user row is written: nothing stays behind
    assert api.client.get("/almaws/v1/users/bob", headers=api.h()).status_code == 400
    twice = body("carl")
    twice["user_identifier"] = [
        {"id_type": {"value": "BARCODE"}, "value": "X1"},
        {"id_type": {"value": "UNIV_ID"}, "value": "x1"},
    ]
    assert error_code(create(api, twice)) == "40166404"
    assert api.client.get("/almaws/v1/users/carl", headers=api.h()).status_code == 400


def test_put_rules(api: Api) -> None:
    create(
        api,
        body(
            password="a-long-passphrase",
            user_role=[
                {
                    "status": {"value": "ACTIVE"},
                    "scope": {"value": "MAIN"},
                    "role_type": {"value": "200"},
                }
            ],
        ),
    )
    current = api.client.get("/almaws/v1/users/jdoe", headers=api.h()).json()
    current["first_name"] = "Janet"
    del current["user_role"]
    r = api.client.put("/almaws/v1/users/jdoe", json=current, headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["first_name"] == "Janet"
    assert [x["role_type"]["value"] for x in r.json()["user_role"]] == ["200"]
    # the GET body PUT back unchanged (password "", output-only fields) keeps the password
    api.client.put("/almaws/v1/users/jdoe", json=r.json(), headers=api.h())
    auth = api.client.post(
        "/almaws/v1/users/jdoe?op=auth",
        headers={**api.h(), "Exl-User-Pw": quote("a-long-passphrase")},
    )
    assert auth.status_code == 204
    bad = api.client.post("/almaws/v1/users/jdoe?op=auth&password=wrong-one-here", headers=api.h())
    assert (bad.status_code, error_code(bad)) == (400, "401866")


def test_put_external_rules(api: Api) -> None:
    ext = body(
        "ext1",
        account_type={"value": "EXTERNAL"},
        external_id="SIS",
        job_category={"value": "Librarian"},
    )
    assert create(api, ext).status_code == 200
    changed = dict(ext, external_id="OTHER")
    assert (
        error_code(api.client.put("/almaws/v1/users/ext1", json=changed, headers=api.h()))
        == "401858"
    )
    internal = dict(ext, account_type={"value": "INTERNAL"}, external_id="")
    assert (
        error_code(api.client.put("/almaws/v1/users/ext1", json=internal, headers=api.h()))
        == "401859"
    )
    blank = dict(ext, job_category={"value": ""})
    kept = api.client.put("/almaws/v1/users/ext1", json=blank, headers=api.h())
    assert kept.json()["job_category"]["value"] == "Librarian"
    cleared = api.client.put(
        "/almaws/v1/users/ext1?override=job_category", json=blank, headers=api.h()
    )
    assert "job_category" not in cleared.json() or not cleared.json()["job_category"]["value"]
    assert (
        error_code(
            api.client.put("/almaws/v1/users/ext1?override=primary_id", json=blank, headers=api.h())
        )
        == "40166411"
    )


def test_delete(api: Api) -> None:
    create(api, body())
    r = api.client.delete("/almaws/v1/users/jdoe", headers=api.h())
    assert r.status_code == 204
    assert r.content == b""
    again = api.client.delete("/almaws/v1/users/jdoe", headers=api.h())
    assert (again.status_code, error_code(again)) == (400, "401861")


def test_search_and_paging(api: Api) -> None:
    for i, (first, last) in enumerate(
        [("Ann", "Smith"), ("Bob", "Smith"), ("Cy", "Jones"), ("Di", "Smithers")]
    ):
        create(api, body(f"u{i}", first_name=first, last_name=last))
    r = api.client.get("/almaws/v1/users?q=last_name~smith", headers=api.h())
    data = r.json()
    assert data["total_record_count"] == 2
    assert [u["first_name"] for u in data["user"]] == ["Ann", "Bob"]
    assert data["user"][0]["link"].endswith("/almaws/v1/users/u0")
    assert "contact_info" not in data["user"][0]
    prefix = api.client.get(
        "/almaws/v1/users?q=last_name~smith*+AND+first_name~di", headers=api.h()
    ).json()
    assert [u["primary_id"] for u in prefix["user"]] == ["u3"]
    page = api.client.get("/almaws/v1/users?limit=2&offset=1", headers=api.h()).json()
    assert page["total_record_count"] == 4
    assert [u["primary_id"] for u in page["user"]] == ["u0", "u1"]  # Jones, Smith Ann, ...
    full = api.client.get("/almaws/v1/users?expand=full&limit=1", headers=api.h()).json()
    assert "contact_info" in full["user"][0]
    none = api.client.get("/almaws/v1/users?q=last_name~nobody", headers=api.h()).json()
    assert none == {"total_record_count": 0}
    xml = api.client.get("/almaws/v1/users?q=last_name~smith", headers=api.h(json=False))
    root = etree.fromstring(xml.content)
    assert root.get("total_record_count") == "2"
    assert root.find("user").get("link").endswith("/u0")


@pytest.mark.parametrize(
    "query",
    [
        "limit=101",
        "limit=-1",
        "limit=abc",
        "offset=-5",
        "order_by=password",
        "q=nonsense",
        "q=bogus~x",
        "q=last_name~x&modify_date_from=2020-01-01",
        "modify_date_from=yesterday",
        "expand=everything",
    ],
)
def test_search_bad_parameters(api: Api, query: str) -> None:
    r = api.client.get(f"/almaws/v1/users?{query}", headers=api.h())
    assert r.status_code == 400
    assert error_code(r) == "40166411"


def test_search_injection_strings_are_just_words(api: Api) -> None:
    create(api, body("o'brien", last_name="O'Brien"))
    for q in [
        "last_name~'; DROP TABLE users; --",
        "last_name~%' OR 1=1 --",
        "ALL~<script>alert(1)</script>",
    ]:
        r = api.client.get("/almaws/v1/users", params={"q": q}, headers=api.h())
        assert r.status_code == 200, r.text
    assert api.client.get("/almaws/v1/users/o'brien", headers=api.h()).status_code == 200


def test_keys_and_areas(api: Api) -> None:
    create(api, body())
    no_key = api.client.get("/almaws/v1/users/jdoe", headers={"Accept": "application/json"})
    assert (no_key.status_code, error_code(no_key)) == (403, "UNAUTHORIZED")
    bad_key = api.client.get("/almaws/v1/users/jdoe", headers=api.h("bp_nope"))
    assert (bad_key.status_code, error_code(bad_key)) == (403, "UNAUTHORIZED")
    query_key = api.client.get(
        f"/almaws/v1/users/jdoe?apikey={api.key}&format=json", headers={"Accept": "*/*"}
    )
    assert query_key.status_code == 200
    ro_write = create_with(api, api.ro_key, body("x1"))
    assert (ro_write.status_code, error_code(ro_write)) == (400, "UNAUTHORIZED")
    assert api.client.get("/almaws/v1/users/jdoe", headers=api.h(api.ro_key)).status_code == 200
    wrong_area = api.client.get("/almaws/v1/users/jdoe", headers=api.h(api.conf_key))
    assert (wrong_area.status_code, error_code(wrong_area)) == (400, "UNAUTHORIZED")
    # another institution's key does not see MAIN's users
    other = api.client.get("/almaws/v1/users/jdoe", headers=api.h(api.other_key))
    assert error_code(other) == "401861"
    assert (
        api.client.get("/almaws/v1/users/operation/test", headers=api.h(api.ro_key)).status_code
        == 200
    )
    assert (
        api.client.post("/almaws/v1/users/operation/test", headers=api.h(api.ro_key)).status_code
        == 400
    )
    assert (
        api.client.post(
            "/almaws/v1/users/jdoe?op=auth&password=whatever-pw", headers=api.h(api.ro_key)
        ).status_code
        == 400
    )  # allowed, wrong pw


def create_with(api: Api, key: str, data: dict[str, Any]) -> Any:
    return api.client.post("/almaws/v1/users", json=data, headers=api.h(key))


def test_revoked_key(api: Api) -> None:
    from bookplate.keys.services import parse_areas

    key, secret = api.container.keys.create("MAIN", "tmp", parse_areas(["users:ro"]))
    assert api.client.get("/almaws/v1/users", headers=api.h(secret)).status_code == 200
    api.container.keys.revoke(key.key_id)
    assert api.client.get("/almaws/v1/users", headers=api.h(secret)).status_code == 403


def test_per_second_threshold(api: Api) -> None:
    from bookplate.keys.services import parse_areas

    _, secret = api.container.keys.create("MAIN", "slow", parse_areas(["users:ro"]), 3)
    codes = [api.client.get("/almaws/v1/users", headers=api.h(secret)) for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert error_code(limited[0]) == "PER_SECOND_THRESHOLD"


def test_code_tables(api: Api) -> None:
    r = api.client.get("/almaws/v1/conf/code-tables/UserGroups", headers=api.h())
    assert r.status_code == 200
    codes = {row["code"] for row in r.json()["row"]}
    assert {"UNDERGRAD", "FACULTY"} <= codes
    xml = api.client.get("/almaws/v1/conf/code-tables/UserGroups", headers=api.h(json=False))
    assert etree.fromstring(xml.content).find("rows/row/code") is not None
    missing = api.client.get("/almaws/v1/conf/code-tables/Nope", headers=api.h())
    assert missing.status_code == 400
    users_only = api.client.get("/almaws/v1/conf/code-tables/UserGroups", headers=api.h(api.ro_key))
    assert error_code(users_only) == "UNAUTHORIZED"


def test_unknown_code_and_record_type_rules(api: Api) -> None:
    assert error_code(create(api, body(user_group={"value": "ROBOTS"}))) == "401864"
    assert error_code(create(api, body(record_type={"value": "STAFF"}))) == "401852"
    contact = body("vendor", record_type={"value": "CONTACT"})
    del contact["user_group"]
    assert error_code(create(api, contact)) == "401863"
    ext = body("e1", account_type={"value": "EXTERNAL"})
    assert error_code(create(api, ext)) == "401854"
    assert error_code(create(api, body("i1", external_id="SIS"))) == "401853"
    assert error_code(create(api, body("a1", account_type={"value": "ROBOT"}))) == "401857"
    assert error_code(create(api, body("p1", password="short"))) == "500038"
    missing = body()
    del missing["primary_id"]
    assert error_code(create(api, missing)) == "401664"


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("application/json", b'{"primary_id": "x", ', "401676"),
    ("application/json", b"[1, 2, 3]", "401676"),
    ("application/json", b"not json at all", "401676"),
    ("application/json", b"", "401676"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000, "401676"),
    ("application/xml", b"<user><primary_id>x</primary_id>", "401676"),
    ("application/xml", b"<notauser/>", "401676"),
    (
        "application/xml",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<user><primary_id>&lol3;</primary_id></user>",
        "401676",
    ),
    (
        "application/xml",
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<user><primary_id>x</primary_id><last_name>&xxe;</last_name></user>",
        "401676",
    ),
]


@pytest.mark.parametrize(("ctype", "payload", "code"), BAD_BODIES)
def test_bad_bodies(api: Api, ctype: str, payload: bytes, code: str) -> None:
    r = api.client.post(
        "/almaws/v1/users", content=payload, headers={**api.h(), "Content-Type": ctype}
    )
    assert r.status_code == 400, r.text
    assert error_code(r) == code
    assert "root:" not in r.text
    listing = api.client.get("/almaws/v1/users", headers=api.h()).json()
    assert listing["total_record_count"] == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"first_name": "x" * 10_000}, "40166404"),
        ({"first_name": ["a", "list"]}, "40166404"),
        ({"last_name": 42}, "40166404"),
        ({"expiry_date": "2030-13-45Z"}, "40166404"),
        ({"expiry_date": {"value": "x"}}, "40166404"),
        ({"last_name": "tab\tok but nul\u0000 not"}, "40166404"),
        ({"contact_info": "nope"}, "40166404"),
        ({"user_identifier": [{"id_type": {"value": "NOPE"}, "value": "1"}]}, "401864"),
    ],
)
def test_bad_fields(api: Api, change: dict[str, Any], code: str) -> None:
    r = create(api, body(**change))
    assert r.status_code == 400, r.text
    assert error_code(r) == code
    assert api.client.get("/almaws/v1/users/jdoe", headers=api.h()).status_code == 400


def test_huge_body_refused(api: Api) -> None:
    big = json.dumps(body(job_description="y" * 300_000)).encode()
    r = api.client.post(
        "/almaws/v1/users", content=big, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert error_code(r) == "401676"


def test_unicode_names_round_trip(api: Api) -> None:
    r = create(api, body("uni", first_name="Zoë Åsa", last_name="Nguyễn 李"))
    assert r.status_code == 200
    found = api.client.get(
        "/almaws/v1/users", params={"q": "last_name~nguyen"}, headers=api.h()
    ).json()
    assert found["total_record_count"] == 1
    assert found["user"][0]["last_name"] == "Nguyễn 李"


def test_empty_body_content_type_json_on_get_and_delete(api: Api) -> None:
    create(api, body())
    h = {**api.h(), "Content-Type": "application/json"}
    assert api.client.get("/almaws/v1/users/jdoe", headers=h).status_code == 200
    assert api.client.request("DELETE", "/almaws/v1/users/jdoe", headers=h).status_code == 204


def test_unknown_route_gives_alma_envelope(api: Api) -> None:
    r = api.client.get("/almaws/v1/nothing-here", headers=api.h())
    assert r.status_code == 404
    assert error_code(r) == "NOT_FOUND"


def test_tracking_id_is_logged_and_no_secret_is(api: Api) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        r = api.client.get(f"/almaws/v1/users/nobody?apikey={api.key}&format=json")
    tid = r.json()["errorList"]["error"][0]["trackingId"]
    assert any(entry.get("tracking_id") == tid for entry in logs)
    assert api.key not in repr(logs)
    assert api.key not in r.text


def test_views_expand_and_modify_date(api: Api) -> None:
    create(
        api,
        body(
            user_note=[{"note_type": {"value": "GENERAL"}, "note_text": "hello"}],
            linking_id="LINK-1",
        ),
    )
    brief = api.client.get("/almaws/v1/users/jdoe?view=brief", headers=api.h()).json()
    assert "user_note" not in brief
    assert brief["user_identifier"][0]["value"] == "B-jdoe"
    assert list(brief["contact_info"]) == ["email"]
    full = api.client.get("/almaws/v1/users/jdoe?expand=loans,fees", headers=api.h()).json()
    assert full["user_note"][0]["note_text"] == "hello"
    assert full["loans"] == {"value": "0"}
    assert "requests" not in full
    linked = api.client.get("/almaws/v1/users/LINK-1?user_id_type=linking_id", headers=api.h())
    assert linked.json()["primary_id"] == "jdoe"
    recent = api.client.get("/almaws/v1/users?modify_date_from=2000-01-01", headers=api.h())
    assert recent.json()["total_record_count"] == 1
    future = api.client.get("/almaws/v1/users?modify_date_from=2999-01-01", headers=api.h())
    assert future.json()["total_record_count"] == 0
    assert (
        error_code(api.client.get("/almaws/v1/users/jdoe?view=tiny", headers=api.h())) == "40166411"
    )
    assert (
        error_code(api.client.get("/almaws/v1/users/jdoe?expand=everything", headers=api.h()))
        == "40166411"
    )


def test_uniqueness_scope_between_institutions(api: Api) -> None:
    from bookplate.network.model import IdScope

    assert create(api, body("shared")).status_code == 200
    again = create_with(api, api.other_key, body("SHARED"))
    assert error_code(again) == "401851"  # network-wide by default
    with api.container.uow_factory() as uow:
        uow.institutions.set_id_scope(IdScope.INSTITUTION)
        uow.commit()
    assert create_with(api, api.other_key, body("SHARED")).status_code == 200
    mine = api.client.get("/almaws/v1/users/shared", headers=api.h()).json()
    theirs = api.client.get("/almaws/v1/users/shared", headers=api.h(api.other_key)).json()
    assert (mine["primary_id"], theirs["primary_id"]) == ("shared", "SHARED")
    with api.container.uow_factory() as uow, pytest.raises(Exception, match="already exists"):
        uow.institutions.set_id_scope(IdScope.NETWORK)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/almaws/v1/users/a%00b"),
        ("GET", "/almaws/v1/users/a%00b?user_id_type=BARCODE"),
        ("GET", "/almaws/v1/users/a?user_id_type=BAR%00CODE"),
        ("GET", "/almaws/v1/users?q=last_name~a%00b"),
        ("GET", "/almaws/v1/users?q=primary_id~a%00b"),
        ("DELETE", "/almaws/v1/users/a%00b"),
        ("POST", "/almaws/v1/users/a%00b?op=auth&password=whatever-pw"),
    ],
)
def test_nul_characters_are_refused_not_crashed_on(api: Api, method: str, path: str) -> None:
    """PostgreSQL cannot hold a NUL in text: such IDs are simply never found."""
    r = api.client.request(method, path, headers=api.h())
    assert r.status_code == 400, r.text
    assert error_code(r) in ("401861", "401890", "40166411", "401866")


def test_a_refused_country_names_the_table_and_the_command(api: Api) -> None:
    """Older institutions lack the ISO list: the 401864 error says where and how to add it."""
    with api.container.uow_factory() as uow:
        uow.codes.remove_row("MAIN", "CountryCodes", "JPN")
        uow.commit()
    address = {"line1": "1-1", "city": "Tokyo", "country": {"value": "JPN"},
               "address_type": [{"value": "home"}], "preferred": True}
    r = create(api, body(contact_info={"address": [address]}))
    error = r.json()["errorList"]["error"][0]
    assert r.status_code == 400 and error["errorCode"] == "401864"
    assert error["errorMessage"].startswith("Given country type (JPN) is invalid.")
    assert "CountryCodes" in error["errorMessage"]
    assert "bookplate codes standard MAIN" in error["errorMessage"]
    api.container.add_standard_codes("MAIN")
    assert create(api, body(contact_info={"address": [address]})).status_code == 200
