"""Issue 14 item 18: list counts of a record are capped (users.validation.MAX_LIST_ITEMS), the
same for the API and SIS, with an error in Alma's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bookplate.sis.model import Profile
from bookplate.users.validation import MAX_LIST_ITEMS
from tests.functional.conftest import Api
from tests.functional.test_users_api import body, create, error_code
from tests.integration.sis.helpers import user_xml, users_doc


def identifiers(n: int) -> list[dict[str, Any]]:
    return [{"id_type": {"value": "BARCODE"}, "value": f"B{i:05d}"} for i in range(n)]


def emails(n: int) -> dict[str, Any]:
    return {"email": [{"email_address": f"e{i}@example.edu", "email_type": [{"value": "school"}]}
                      for i in range(n)]}


def test_too_many_identifiers_are_refused_and_nothing_is_stored(api: Api) -> None:
    cap = MAX_LIST_ITEMS["user_identifier"]
    r = create(api, body("many", user_identifier=identifiers(cap + 1)))
    assert (r.status_code, error_code(r)) == (400, "40166404")
    assert r.json()["errorList"]["error"][0]["errorMessage"] == (
        f"Given field user_identifier has {cap + 1} entries; at most {cap} are allowed."
    )
    assert api.client.get("/almaws/v1/users/many", headers=api.h()).status_code == 400


def test_too_many_emails_are_refused_in_xml_too(api: Api) -> None:
    cap = MAX_LIST_ITEMS["email"]
    r = api.client.post("/almaws/v1/users", json=body("mail", contact_info=emails(cap + 1)),
                        headers=api.h(json=False))
    assert r.status_code == 400
    assert b"<errorCode>40166404</errorCode>" in r.content


def test_a_record_at_the_caps_is_read_back_and_put_again(api: Api) -> None:
    data = body("full", user_identifier=identifiers(MAX_LIST_ITEMS["user_identifier"]),
                contact_info=emails(MAX_LIST_ITEMS["email"]))
    assert create(api, data).status_code == 200
    current = api.client.get("/almaws/v1/users/full", headers=api.h())
    assert current.status_code == 200
    assert len(current.json()["user_identifier"]) == MAX_LIST_ITEMS["user_identifier"]
    again = api.client.put("/almaws/v1/users/full", json=current.json(), headers=api.h())
    assert again.status_code == 200, again.text


def test_a_put_adding_one_entry_too_many_is_refused(api: Api) -> None:
    cap = MAX_LIST_ITEMS["user_identifier"]
    assert create(api, body("grow", user_identifier=identifiers(cap))).status_code == 200
    current = api.client.get("/almaws/v1/users/grow", headers=api.h()).json()
    current["user_identifier"].append({"id_type": {"value": "BARCODE"}, "value": "ONE-MORE"})
    r = api.client.put("/almaws/v1/users/grow", json=current, headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "40166404")
    stored = api.client.get("/almaws/v1/users/grow", headers=api.h()).json()
    assert len(stored["user_identifier"]) == cap


def test_the_record_text_is_capped(api: Api) -> None:
    notes = [{"note_type": {"value": "OTHER"}, "note_text": "x" * 2000} for _ in range(140)]
    r = api.client.post("/almaws/v1/users", json=body("wordy", user_note=notes),
                        headers=api.h())
    # 140 notes of 2,000 characters: 280,000 bytes of text, over the 262,144 allowed; the test
    # app's body limit is 200,000 bytes, so the cap is reached through the service directly.
    assert r.status_code == 413
    from bookplate.users.errors import TooManyValues
    from bookplate.users.model import Note, User, UserInput

    user = User("wordy", first_name="W", last_name="Ordy", user_group="UNDERGRAD",
                notes=[Note(note_type="OTHER", note_text="x" * 2000) for _ in range(140)])
    with pytest.raises(TooManyValues, match="bytes of text"):
        api.container.users.create("MAIN", UserInput(user), "test")


def test_an_sis_record_over_a_cap_is_rejected_with_the_reason(api: Api, tmp_path: Path) -> None:
    c = api.container
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    cap = MAX_LIST_ITEMS["user_identifier"]
    many = "<user_identifiers>" + "".join(
        f"<user_identifier><id_type>BARCODE</id_type><value>S{i}</value></user_identifier>"
        for i in range(cap + 1)
    ) + "</user_identifiers>"
    path = tmp_path / "users.xml"
    path.write_bytes(users_doc(user_xml("ok1"), user_xml("big1", extra=many)))
    report = c.sis.run("MAIN", "SIS", path)
    assert report.counts["create"] == 1
    assert report.counts["reject"] == 1
    (item,) = c.sis.items(report.run_id or 0, "reject")
    assert item.match_id == "big1"
    assert f"at most {cap} are allowed" in (item.detail or "")
