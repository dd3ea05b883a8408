"""Linked accounts through Alma's Users API (SPEC section 7.1), with two and three
institutions in one deployment, on SQLite and PostgreSQL: create, find by source, find by
linking ID, refresh, the rules of the partner, and Alma's error codes."""

from __future__ import annotations

from typing import Any

import pytest

from bookplate.keys.services import parse_areas
from tests.functional.conftest import Api
from tests.functional.test_users_api import body, error_code

USERS = "/almaws/v1/users"


def source_user(api: Api, primary_id: str = "walker", **extra: Any) -> dict[str, Any]:
    data = body(
        primary_id,
        contact_info={
            "address": [{"line1": "1 Main St", "city": "Springfield", "preferred": True,
                         "address_type": [{"value": "home"}]}],
            "email": [{"email_address": f"{primary_id}@other.edu", "preferred": True,
                       "email_type": [{"value": "school"}]}],
            "phone": [{"phone_number": "555-0100", "preferred": True,
                       "phone_type": [{"value": "home"}]}],
        },
        user_identifier=[{"id_type": {"value": "BARCODE"}, "value": f"BC-{primary_id}"}],
        **extra,
    )
    r = api.client.post(USERS, json=data, headers=api.h(api.other_key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def partner(api: Api, host: str = "MAIN", home: str = "OTHER", **rule: Any) -> None:
    api.container.network.put_partner(host, home, rule, "test")


def link(api: Api, source_id: str = "walker", code: str = "OTHER",
         key: str | None = None) -> Any:
    return api.client.post(
        f"{USERS}?source_institution_code={code}&source_user_id={source_id}",
        headers=api.h(key),
    )


def test_link_copies_general_info_and_contacts_not_identifiers(api: Api) -> None:
    source_user(api)
    partner(api, user_group="GRAD")
    r = link(api)
    assert r.status_code == 200, r.text
    copy = r.json()
    assert copy["primary_id"] == "walker"
    assert copy["first_name"] == "Jane" and copy["last_name"] == "Doe"
    assert copy["source_institution_code"] == "OTHER"
    assert copy["source_link_id"] == "walker"
    assert copy["linking_id"]
    assert copy["user_group"]["value"] == "GRAD"  # the rule's group, not the source's
    assert copy["expiry_date"] == "2030-08-30Z"  # same as in source (the default rule)
    info = copy["contact_info"]
    assert info["address"][0]["city"] == "Springfield"
    assert info["email"][0]["email_address"] == "walker@other.edu"
    assert info["phone"][0]["phone_number"] == "555-0100"
    assert copy["user_identifier"] == []
    # The source got the same linking ID: one person, connected across institutions.
    home = api.client.get(f"{USERS}/walker", headers=api.h(api.other_key)).json()
    assert home["linking_id"] == copy["linking_id"]
    assert home["user_identifier"][0]["value"] == "BC-walker"


def test_find_copy_by_source_by_link_id_and_by_linking_id(api: Api) -> None:
    source_user(api)
    partner(api)
    linking_id = link(api).json()["linking_id"]
    r = api.client.get(f"{USERS}?source_institution_code=OTHER&source_user_id=walker",
                       headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["total_record_count"] == 1
    assert r.json()["user"][0]["primary_id"] == "walker"
    # The source may be found by its searchable identifiers (here: the barcode).
    api.container.network.set_member("OTHER", "test", searchable_id_types=["primary_id",
                                                                          "BARCODE"])
    r = api.client.get(f"{USERS}?source_institution_code=OTHER&source_user_id=BC-walker",
                       headers=api.h())
    assert r.json()["total_record_count"] == 1
    r = api.client.get(f"{USERS}/walker?source_institution_code=OTHER", headers=api.h())
    assert r.status_code == 200 and r.json()["source_link_id"] == "walker"
    r = api.client.get(f"{USERS}/{linking_id}?user_id_type=linking_id", headers=api.h())
    assert r.status_code == 200 and r.json()["primary_id"] == "walker"
    # The list filtered by source institution only.
    r = api.client.get(f"{USERS}?source_institution_code=OTHER", headers=api.h())
    assert r.json()["total_record_count"] == 1


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?source_institution_code=OTHER&source_user_id=nobody", "401861"),
        ("?source_institution_code=OTHER&source_user_id=walker", "4019990"),
        ("?source_institution_code=NOWHERE&source_user_id=walker", "60224"),
        ("?source_institution_code=MAIN&source_user_id=walker", "401651"),
        ("?source_user_id=walker", "401651"),
    ],
)
def test_find_by_source_errors(api: Api, query: str, code: str) -> None:
    source_user(api)
    partner(api)
    r = api.client.get(f"{USERS}{query}", headers=api.h())
    assert r.status_code == 400
    assert error_code(r) == code


def test_lookup_errors_by_source_link_and_linking_id(api: Api) -> None:
    r = api.client.get(f"{USERS}/ghost?source_institution_code=OTHER", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "4019990")
    r = api.client.get(f"{USERS}/ghost?user_id_type=linking_id", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "4019998")


def test_link_errors_write_nothing(api: Api) -> None:
    source_user(api)
    # Not a partner (but an institution of the deployment): 401651; unknown code: 60224.
    assert error_code(link(api)) == "401651"
    assert error_code(link(api, code="NOWHERE")) == "60224"
    partner(api)
    assert error_code(link(api, source_id="nobody")) == "60226"
    assert link(api).status_code == 200
    second = link(api)
    assert (second.status_code, error_code(second)) == (400, "60227")
    # Read-only key: Alma's key error, not a link.
    assert error_code(link(api, key=api.ro_key)) == "UNAUTHORIZED"
    r = api.client.get(f"{USERS}?source_institution_code=OTHER", headers=api.h())
    assert r.json()["total_record_count"] == 1


def test_local_account_with_the_same_id_is_a_duplicate_not_a_copy(api: Api) -> None:
    """Per-institution IDs: MAIN already has its own "walker": 60231, naming it."""
    from bookplate.network.model import IdScope

    api.container.network.set_scope(IdScope.INSTITUTION, "test")
    source_user(api)
    r = api.client.post(USERS, json=body("walker"), headers=api.h())
    assert r.status_code == 200, r.text
    partner(api)
    r = link(api)
    assert (r.status_code, error_code(r)) == (400, "60231")
    assert "local user walker" in r.json()["errorList"]["error"][0]["errorMessage"]


def test_user_group_empty_is_60232(api: Api) -> None:
    source_user(api, user_group=None)
    partner(api)
    r = link(api)
    assert (r.status_code, error_code(r)) == (400, "60232")


def test_refresh_brings_the_copy_up_to_date_and_keeps_local_data(api: Api) -> None:
    source_user(api)
    partner(api, refresh_expiry=True)
    link(api)
    # The host adds its own note and identifier to the copy.
    copy = api.client.get(f"{USERS}/walker", headers=api.h()).json()
    copy["user_note"] = [{"note_type": {"value": "GENERAL"}, "note_text": "local note"}]
    copy["user_identifier"] = [{"id_type": {"value": "BARCODE"}, "value": "MAIN-77"}]
    assert api.client.put(f"{USERS}/walker", json=copy, headers=api.h()).status_code == 200
    # Live refresh is covered elsewhere: stopped here, only op=refresh brings the change.
    api.container.network_refresh.close()
    home = api.client.get(f"{USERS}/walker", headers=api.h(api.other_key)).json()
    home["last_name"] = "Walker-Smith"
    home["expiry_date"] = "2031-01-31Z"
    r = api.client.put(f"{USERS}/walker", json=home, headers=api.h(api.other_key))
    assert r.status_code == 200, r.text
    before = api.client.get(f"{USERS}/walker", headers=api.h()).json()
    assert before["last_name"] == "Doe"
    r = api.client.post(f"{USERS}/walker?op=refresh", headers=api.h())
    assert r.status_code == 204, r.text
    after = api.client.get(f"{USERS}/walker", headers=api.h()).json()
    assert after["last_name"] == "Walker-Smith"
    assert after["expiry_date"] == "2031-01-31Z"
    assert [n["note_text"] for n in after["user_note"]] == ["local note"]
    assert after["user_identifier"][0]["value"] == "MAIN-77"
    history = api.client.get("/bookplate/v1/network/history/walker", headers=api.h()).json()
    actions = [h["action"] for h in history["history"]]
    assert actions[0] == "user.add" and "network.link" in actions
    assert "network.refresh" in actions


def test_refresh_errors(api: Api) -> None:
    r = api.client.post(f"{USERS}/ghost?op=refresh", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "401861")
    api.client.post(USERS, json=body("plain"), headers=api.h())
    r = api.client.post(f"{USERS}/plain?op=refresh", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "60229")
    r = api.client.post(f"{USERS}/plain?op=refresh", headers=api.h(api.ro_key))
    assert error_code(r) == "UNAUTHORIZED"
    # The source is deleted: 60226; the partner removed: 60230.
    source_user(api)
    partner(api)
    link(api)
    api.container.network.remove_partner("MAIN", "OTHER", "test")
    r = api.client.post(f"{USERS}/walker?op=refresh", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "60230")
    partner(api)
    api.container.network_refresh.close()  # no live pass: the deletion stays unapplied
    assert api.client.delete(f"{USERS}/walker", headers=api.h(api.other_key)).status_code == 204
    r = api.client.post(f"{USERS}/walker?op=refresh", headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "60226")


def test_three_institutions_rules_per_partner(api: Api) -> None:
    """THIRD copies OTHER's user with a fixed expiry and a purge date after it; MAIN with
    the source's dates. The rules of one host do not touch the other's copy."""
    api.container.add_institution("THIRD", "Third College")
    _, third_key = api.container.keys.create("THIRD", "rw", parse_areas(["users:rw"]), 10_000)
    source_user(api)
    partner(api)
    partner(api, host="THIRD", user_group="FACULTY", expiry="fixed", expiry_date="2027-06-30",
            purge="after_expiry", purge_days=30)
    main_copy = link(api).json()
    third = link(api, key=third_key)
    assert third.status_code == 200, third.text
    third_copy = third.json()
    assert main_copy["expiry_date"] == "2030-08-30Z"
    assert third_copy["expiry_date"] == "2027-06-30Z"
    assert third_copy["purge_date"] == "2027-07-30Z"
    assert third_copy["user_group"]["value"] == "FACULTY"
    assert main_copy["linking_id"] == third_copy["linking_id"]


def test_network_search_password(api: Api) -> None:
    source_user(api)
    api.container.network.set_member("OTHER", "test", search_password="s3cret-pass")
    partner(api)
    r = link(api)
    assert (r.status_code, error_code(r)) == (400, "401651")
    assert "s3cret" not in r.text
    partner(api, search_password="s3cret-pass")
    assert link(api).status_code == 200


def test_partner_api_and_rule_validation(api: Api) -> None:
    conf = api.container.keys.create("MAIN", "conf-rw", parse_areas(["conf:rw"]), 100)[1]
    h = api.h(conf)
    r = api.client.put("/bookplate/v1/network/partners/OTHER", headers=h,
                       json={"user_group": "GRAD", "expiry": "fixed"})
    assert (r.status_code, error_code(r)) == (400, "40166411")
    r = api.client.put("/bookplate/v1/network/partners/OTHER", headers=h,
                       json={"user_group": "NOPE"})
    assert (r.status_code, error_code(r)) == (400, "40166411")
    r = api.client.put("/bookplate/v1/network/partners/ELSEWHERE", headers=h,
                       json={"base_url": "http://127.0.0.1:9", "api_key": "k-secret"})
    assert r.status_code == 200, r.text
    assert r.json()["api_key_set"] is True and "k-secret" not in r.text
    r = api.client.put("/bookplate/v1/network/partners/OTHER", headers=h,
                       json={"user_group": "GRAD", "purge": "after_expiry", "purge_days": 10})
    assert r.status_code == 200, r.text
    listed = api.client.get("/bookplate/v1/network/partners", headers=h).json()["partner"]
    assert [p["code"] for p in listed] == ["ELSEWHERE", "OTHER"]
    # A Users key cannot configure.
    r = api.client.get("/bookplate/v1/network/partners", headers=api.h(api.ro_key))
    assert error_code(r) == "UNAUTHORIZED"
    assert api.client.delete("/bookplate/v1/network/partners/OTHER", headers=h).status_code == 204
    r = api.client.delete("/bookplate/v1/network/partners/OTHER", headers=h)
    assert r.status_code == 400


def test_live_refresh_runs_as_a_background_job(api: Api) -> None:
    """A PUT on the source (API key) is committed with its outbox entry; the job the commit
    queued (the process's thread on SQLite, a procrastinate job on PostgreSQL) refreshes
    the copy without anyone asking."""
    source_user(api)
    partner(api)
    link(api)
    home = api.client.get(f"{USERS}/walker", headers=api.h(api.other_key)).json()
    home["first_name"] = "Joan"
    assert api.client.put(f"{USERS}/walker", json=home,
                          headers=api.h(api.other_key)).status_code == 200
    queue = api.container.network_refresh
    from bookplate.network.live import RefreshThread

    if isinstance(queue, RefreshThread):
        assert queue.join(60)
    else:
        queue.run_worker(wait=False, install_signal_handlers=False)
    assert api.container.network.waiting() == 0
    copy = api.client.get(f"{USERS}/walker", headers=api.h()).json()
    assert copy["first_name"] == "Joan"
