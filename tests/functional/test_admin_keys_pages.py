"""``/staff/admin/keys``, ``/staff/admin/logins`` and ``/staff/admin/history`` through
create_app on SQLite and PostgreSQL: a key created (secret shown once and working), listed
with its last use, revoked after confirmation; the audit rows of keys and SIS profiles; the
login report and the history with their filters and CSV; bad input, fuzzing, CSRF and the
403s of a user manager and a patron."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from bookplate.sis.model import Profile
from tests.functional.form_fuzz import fuzz, post_forms
from tests.functional.staff_pages import PASSWORD, Site, site_for

KEYS = "/staff/admin/keys"
SECRET = re.compile(r'id="secret" readonly value="(bp_[^"]+)"')


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def history(site: Site, prefix: str) -> list[dict[str, Any]]:
    with site.container.uow_factory() as uow:
        return uow.roles.history("MAIN", prefix)


def create(site: Site, **data: str) -> Any:
    return site.post(KEYS, {"name": "Discovery", "per_second": "20", "area_users": "rw",
                            "area_conf": "", **data})


def test_create_list_use_and_revoke_a_key(site: Site) -> None:
    site.sign_in("gsa")
    assert 'href="/staff/admin/keys"' in site.client.get("/staff/").text
    with structlog.testing.capture_logs() as logs:
        r = create(site)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    found = SECRET.search(r.text)
    assert found is not None
    secret = found.group(1)
    assert secret not in repr(logs)  # never logged
    key_id = secret.split("_")[1]
    listing = site.client.get(KEYS).text
    assert secret not in listing  # shown once
    assert f'id="key-{key_id}"' in listing and "Users (read and write)" in listing
    assert "never" in listing  # not used yet

    # the key works and its use is remembered (once a minute at most)
    answer = site.client.get("/almaws/v1/users?limit=1",
                             headers={"Authorization": f"apikey {secret}"})
    assert answer.status_code == 200, answer.text
    key = site.container.keys.get(key_id)
    assert key.last_used is not None and key.per_second == 20
    site.client.get("/almaws/v1/users?limit=1", headers={"Authorization": f"apikey {secret}"})
    assert site.container.keys.get(key_id).last_used == key.last_used

    page = site.client.get(f"{KEYS}/{key_id}/revoke")
    assert page.status_code == 200 and 'id="confirm"' in page.text
    r = site.post(f"{KEYS}/{key_id}/revoke", {})  # not confirmed
    assert r.status_code == 400 and 'id="form-error"' in r.text
    assert site.container.keys.get(key_id).revoked is None
    r = site.post(f"{KEYS}/{key_id}/revoke", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == f"{KEYS}?revoked={key_id}"
    assert site.container.keys.get(key_id).revoked is not None
    site.container.keys.forget()
    gone = site.client.get("/almaws/v1/users?limit=1",
                           headers={"Authorization": f"apikey {secret}"})
    assert gone.status_code in (400, 401, 403)
    assert site.post(f"{KEYS}/{key_id}/revoke", {"confirm": "yes"}).status_code == 303

    rows = history(site, f"key:{key_id}")
    assert [(h["action"], h["actor"]) for h in rows] == [
        ("keys.create", "staff:gsa"), ("keys.revoke", "staff:gsa")]
    assert secret not in repr(rows) and rows[0]["detail"]["areas"] == {"users": "rw"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Give the key a name"),
        ({"name": "N" * 300}, "too long"),
        ({"name": "a\x00b"}, "control characters"),
        ({"area_users": "", "area_conf": ""}, "at least one area"),
        ({"area_users": "admin"}, "Unknown access"),
        ({"per_second": "0"}, "between 1 and"),
        ({"per_second": "-5"}, "whole number"),
        ({"per_second": "99999999999"}, "whole number"),
        ({"per_second": "1e309"}, "whole number"),
        ({"name": "<script>alert(1)</script>", "area_users": "x"}, "Unknown access"),
    ],
)
def test_bad_key_input_is_refused_with_the_reason(site: Site, data: dict[str, str],
                                                  message: str) -> None:
    site.sign_in("gsa")
    before = site.container.keys.list("MAIN")
    r = create(site, **data)
    assert r.status_code == 400, r.text
    assert message in r.text and "<script>alert" not in r.text and "bp_" not in r.text
    assert 'id="form-error"' in r.text and 'id="add-key"' in r.text  # beside the form, again
    assert site.container.keys.list("MAIN") == before


def test_unknown_and_foreign_keys_are_not_found(site: Site) -> None:
    site.container.add_institution("OTHER", "Other College")
    other, _ = site.container.keys.create("OTHER", "theirs", {})
    site.sign_in("gsa")
    for key_id in ("ffffffff", other.key_id, "bad%20id", "x" * 80):
        assert refused(site.client.get(f"{KEYS}/{key_id}/revoke"), 404), key_id
        assert refused(site.post(f"{KEYS}/{key_id}/revoke", {"confirm": "yes"}), 404), key_id
    assert site.container.keys.get(other.key_id).revoked is None
    assert other.key_id not in site.client.get(KEYS).text


def test_who_may_see_the_pages(site: Site) -> None:
    key, _ = site.container.keys.create("MAIN", "k", {})
    for who in ("manager", "patron", "desk"):
        site.sign_in(who)
        for url in (KEYS, f"{KEYS}/{key.key_id}/revoke", "/staff/admin/logins",
                    "/staff/admin/history", "/staff/admin/logins?format=csv",
                    "/staff/admin/history?format=csv"):
            assert refused(site.client.get(url)), (who, url)
    site.sign_in("manager")
    assert refused(create(site))
    assert refused(site.post(f"{KEYS}/{key.key_id}/revoke", {"confirm": "yes"}))
    # a User Administrator reads the reports but does not manage keys (keys.manage: 26 only)
    site.sign_in("useradmin")
    home = site.client.get("/staff/").text
    assert 'href="/staff/admin/history"' in home and 'href="/staff/admin/keys"' not in home
    assert site.client.get("/staff/admin/history").status_code == 200
    assert refused(site.client.get(KEYS))
    assert refused(create(site))
    site.sign_in("gsa")
    r = site.client.post(KEYS, data={"name": "nocsrf", "area_users": "ro"})
    assert refused(r)
    assert [k.name for k in site.container.keys.list("MAIN")] == ["k"]
    assert site.container.keys.get(key.key_id).revoked is None


def test_the_key_forms_survive_fuzzing(site: Site) -> None:
    key, _ = site.container.keys.create("MAIN", "k", {})
    site.sign_in("gsa")
    forms = [f for f in post_forms(site.client, [KEYS, f"{KEYS}/{key.key_id}/revoke"])
             if f.action.startswith(KEYS)]
    assert len(forms) == 2
    problems = fuzz(site.client, forms, site.csrf())
    assert problems == []
    # none of the bad names made a key with a control character or a huge name
    for k in site.container.keys.list("MAIN"):
        assert len(k.name) <= 255 and k.name.isprintable()


def test_the_cli_shares_the_service_and_audit(site: Site) -> None:
    key, _ = site.container.keys.create("MAIN", "cli key", {}, who="cli")
    assert site.container.keys.revoke(key.key_id, who="cli")
    assert not site.container.keys.revoke(key.key_id, who="cli")  # once
    assert [h["action"] for h in history(site, f"key:{key.key_id}")] == [
        "keys.create", "keys.revoke"]


def test_sis_profile_changes_are_audited_on_every_path(site: Site) -> None:
    c = site.container
    c.sis.create_profile(Profile("SIS", "MAIN", default_user_group="UNDERGRAD"), "cli")
    site.sign_in("gsa")
    page = site.client.get("/staff/admin/sis/profiles/SIS")
    assert page.status_code == 200
    r = site.post("/staff/admin/sis/profiles/SIS/delete", {"confirm": "SIS"})
    assert r.status_code == 303, r.text
    rows = history(site, "sis_profile:SIS")
    assert [(h["action"], h["actor"]) for h in rows] == [
        ("sis.profile.create", "cli"), ("sis.profile.delete", "staff:gsa")]
    listing = site.client.get("/staff/admin/history?area=sis").text
    assert "sis.profile.delete" in listing and "staff:gsa" in listing


def test_login_report_filters_and_csv(site: Site) -> None:
    site.sign_in("useradmin")
    site.client.cookies.clear()
    bad = site.client.get("/auth/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', bad.text)
    assert token is not None
    site.client.post("/auth/login", data={"csrf_token": token.group(1), "institution": "MAIN",
                                          "username": "manager", "password": "wrong",
                                          "next": "/auth/me"}, follow_redirects=False)
    site.sign_in("gsa")
    report = site.client.get("/staff/admin/logins")
    assert report.status_code == 200 and 'id="logins"' in report.text
    failed = site.client.get("/staff/admin/logins?outcome=failure").text
    assert "manager" in failed and "useradmin" not in failed.split('id="logins"')[1]
    mine = site.client.get("/staff/admin/logins?user=useradmin").text.split('id="logins"')[1]
    assert "useradmin" in mine and ">manager<" not in mine
    exported = site.client.get("/staff/admin/logins?format=csv&outcome=success")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["login"] for r in rows} >= {"gsa", "useradmin"}
    assert {r["outcome"] for r in rows} == {"success"} and PASSWORD not in exported.text
    none = site.client.get("/staff/admin/logins?from=2000-01-01&to=2000-01-02")
    assert 'id="none"' in none.text


@pytest.mark.parametrize("url", [
    "/staff/admin/logins?from=2024-02-30", "/staff/admin/logins?to=yesterday",
    "/staff/admin/logins?outcome=maybe", "/staff/admin/logins?user=a%00b",
    "/staff/admin/logins?user=" + "x" * 300, "/staff/admin/logins?page=-1",
    "/staff/admin/logins?page=99999999999", "/staff/admin/history?area=nope",
    "/staff/admin/history?from=0000-00-00", "/staff/admin/history?user=%27%20OR%20%271%27%3D%271",
    "/staff/admin/history?area=%3Cscript%3Ealert(1)%3C/script%3E",
])
def test_bad_filters_are_refused_or_match_nothing(site: Site, url: str) -> None:
    site.sign_in("gsa")
    r = site.client.get(url)
    assert r.status_code in (200, 400), r.text
    assert "<script>alert" not in r.text
    if r.status_code == 400:
        assert 'id="refused"' in r.text
    else:
        assert 'id="none"' in r.text


def test_history_lists_every_area_and_exports_csv(site: Site) -> None:
    site.sign_in("gsa")
    assert site.post("/staff/admin/libraries", {"code": "LAW", "name": "Law"}).status_code == 303
    assert create(site, name="=HYPERLINK(1)").status_code == 200
    r = site.client.get("/staff/admin/history?area=libraries")
    assert "library:LAW" in r.text and "keys.create" not in r.text
    everything = site.client.get("/staff/admin/history?user=staff:gsa").text
    assert "library:LAW" in everything and "keys.create" in everything
    exported = site.client.get("/staff/admin/history?format=csv&user=staff:gsa")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["action"] for r in rows} == {"roles.library.put", "keys.create"}
    assert all("bp_" not in r["detail"] for r in rows)
    assert "=HYPERLINK" in exported.text  # inside the JSON detail, never a cell's start
    assert not any(r[k].startswith("=") for r in rows for k in r)
