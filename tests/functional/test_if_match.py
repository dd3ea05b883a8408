"""Issue 14 item 19: ``ETag`` on user answers and ``If-Match`` on PUT (412 on a stale tag), a
Bookplate extension; without ``If-Match`` the last write wins, as in Alma."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bookplate.users.errors import PreconditionFailed
from bookplate.users.ports import Version
from tests.functional.conftest import Api
from tests.functional.test_users_api import body, create, error_code


def note(text: str) -> dict[str, Any]:
    return {"note_type": {"value": "OTHER"}, "note_text": text}


def test_get_put_and_create_answer_an_etag_that_follows_the_version(api: Api) -> None:
    made = create(api, body())
    assert made.status_code == 200
    first = api.client.get("/almaws/v1/users/jdoe", headers=api.h())
    tag = first.headers["etag"]
    assert tag == made.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    # the same version has the same tag in XML
    xml = api.client.get("/almaws/v1/users/jdoe", headers=api.h(json=False))
    assert xml.headers["etag"] == tag
    changed = first.json()
    changed["first_name"] = "Janet"
    put = api.client.put("/almaws/v1/users/jdoe", json=changed,
                         headers={**api.h(), "If-Match": tag})
    assert put.status_code == 200, put.text
    assert put.headers["etag"] != tag
    assert api.client.get("/almaws/v1/users/jdoe", headers=api.h()).headers["etag"] == (
        put.headers["etag"]
    )


def test_a_stale_if_match_answers_412_and_writes_nothing(api: Api) -> None:
    create(api, body())
    read = api.client.get("/almaws/v1/users/jdoe", headers=api.h())
    stale = read.headers["etag"]
    mine = read.json()
    theirs = dict(mine, last_name="Other")
    assert api.client.put("/almaws/v1/users/jdoe", json=theirs,
                          headers=api.h()).status_code == 200
    mine["first_name"] = "Mine"
    for as_json in (True, False):
        r = api.client.put("/almaws/v1/users/jdoe", json=mine,
                           headers={**api.h(json=as_json), "If-Match": stale})
        assert r.status_code == 412
        assert error_code(r) == "PRECONDITION_FAILED"
    stored = api.client.get("/almaws/v1/users/jdoe", headers=api.h()).json()
    assert (stored["first_name"], stored["last_name"]) == ("Jane", "Other")


def test_without_if_match_the_last_write_wins_and_star_matches_any(api: Api) -> None:
    create(api, body())
    read = api.client.get("/almaws/v1/users/jdoe", headers=api.h()).json()
    for name in ("A", "B"):
        r = api.client.put("/almaws/v1/users/jdoe", json=dict(read, first_name=name),
                           headers=api.h())
        assert r.status_code == 200
    star = api.client.put("/almaws/v1/users/jdoe", json=dict(read, first_name="C"),
                          headers={**api.h(), "If-Match": "*"})
    assert star.status_code == 200
    weak = api.client.put("/almaws/v1/users/jdoe", json=read,
                          headers={**api.h(), "If-Match": "W/" + star.headers["etag"]})
    assert weak.status_code == 412  # If-Match compares strongly


def test_concurrent_read_modify_write_clients_lose_no_note(api: Api) -> None:
    create(api, body(user_note=[]))
    clients, errors = 12, []

    def add_note(n: int) -> None:
        for _ in range(200):
            read = api.client.get("/almaws/v1/users/jdoe", headers=api.h())
            record = read.json()
            record["user_note"] = [*record.get("user_note", []), note(f"note {n}")]
            r = api.client.put("/almaws/v1/users/jdoe", json=record,
                               headers={**api.h(), "If-Match": read.headers["etag"]})
            if r.status_code == 200:
                return
            if r.status_code != 412:
                errors.append(r.text)
                return
        errors.append(f"client {n} never got its write in")

    threads = [threading.Thread(target=add_note, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = api.client.get("/almaws/v1/users/jdoe", headers=api.h()).json()
    assert sorted(n["note_text"] for n in stored["user_note"]) == sorted(
        f"note {n}" for n in range(clients)
    )


def test_the_version_is_checked_by_the_write_itself(api: Api) -> None:
    """A writer that read version 0, while another committed version 1 in between, is refused
    by the storage's conditional write (not only by the service's earlier comparison)."""
    c = api.container
    create(api, body())
    v0 = c.users.get("MAIN", "jdoe")
    current = api.client.get("/almaws/v1/users/jdoe", headers=api.h()).json()
    assert api.client.put("/almaws/v1/users/jdoe", json=dict(current, last_name="V1"),
                          headers=api.h()).status_code == 200
    late = c.users.get("MAIN", "jdoe")
    late.last_name = "Late"
    with c.uow_factory() as uow, pytest.raises(PreconditionFailed):
        uow.users.replace("jdoe", late, None, if_version=Version(v0.last_modified_date))
    assert c.users.get("MAIN", "jdoe").last_name == "V1"


def test_a_staff_bearer_token_gets_the_same_if_match_rule(api: Api) -> None:
    from tests.functional.test_staff_api import bearer

    c = api.container
    from bookplate.users.model import Role, User, UserInput

    c.users.create("MAIN", UserInput(User("boss", record_type="STAFF", user_group="STAFF",
                                          last_name="Boss", roles=[Role("21", "MAIN")])), "t")
    token = c.tokens.issue("MAIN", "boss")[1]
    create(api, body())
    read = api.client.get("/almaws/v1/users/jdoe", headers=bearer(token))
    assert read.status_code == 200, read.text
    tag = read.headers["etag"]
    assert api.client.put("/almaws/v1/users/jdoe", json=dict(read.json(), last_name="X"),
                          headers=api.h()).status_code == 200
    r = api.client.put("/almaws/v1/users/jdoe", json=read.json(),
                       headers={**bearer(token), "If-Match": tag})
    assert (r.status_code, error_code(r)) == (412, "PRECONDITION_FAILED")
