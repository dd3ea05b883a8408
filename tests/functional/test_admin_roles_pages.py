"""``/staff/admin/roles``: role profiles, assignment rules, the "which profile would this user
get" tester and restricted accounts, through create_app on SQLite and PostgreSQL — the same
service as the API (audited, same refusals), bad input as form errors, the 403s; and a
restricted account that a user manager can neither change on the pages nor with a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bookplate.roles.model import ProfileRole, RestrictedSettings, RoleProfile
from bookplate.users.model import User, UserInput
from tests.functional.staff_pages import Site, site_for

BASE = "/staff/admin/roles"
INJECTION = "<script>alert(1)</script>' OR '1'='1"


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield from site_for(database_url)


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def form_error(r: Any, text: str, status: int = 400) -> bool:
    found = re.search(r'id="form-error">([^<]*)<', r.text)
    return bool(r.status_code == status and found and text in found.group(1))


def config(site: Site) -> Any:
    site.container.roles.config("MAIN")  # the page's own cache is cleared by each change
    with site.container.uow_factory() as uow:
        return (uow.roles.profiles("MAIN"), uow.roles.rules("MAIN"),
                uow.roles.restricted("MAIN"))


def history(site: Site, target: str) -> list[dict[str, Any]]:
    with site.container.uow_factory() as uow:
        return list(uow.roles.history("MAIN", target))


PROFILE = {
    "code": "CIRC", "name": "Circulation staff",
    "role_type_0": "32", "scope_0": "LIB_A", "status_0": "ACTIVE", "parameters_0": "DESK_A",
    "role_type_1": "21", "scope_1": "", "status_1": "INACTIVE", "expiry_1": "2031-01-31",
}


def test_a_profile_is_created_edited_and_deleted_as_the_api_would(site: Site) -> None:
    site.sign_in("useradmin")
    assert 'href="/staff/admin/roles"' in site.client.get("/staff/roles").text
    page = site.client.get(BASE)
    assert page.status_code == 200 and "PATRON" in page.text and "default-patron" in page.text
    r = site.post(f"{BASE}/profiles/new", PROFILE)
    assert (r.status_code, r.headers["location"]) == (303, f"{BASE}/profiles/CIRC?saved=1")
    stored = config(site)[0]["CIRC"]
    assert stored == RoleProfile("CIRC", "Circulation staff", (
        ProfileRole("32", "LIB_A", (("CirculationDesk", "LIB_A", "DESK_A"),)),
        ProfileRole("21", None, (), "INACTIVE", stored.roles[1].expiry_date)))
    assert str(stored.roles[1].expiry_date) == "2031-01-31"
    page = site.client.get(r.headers["location"]).text
    assert "The profile was saved." in page and 'value="DESK_A"' in page
    logged = history(site, "profile:CIRC")
    assert [(h["actor"], h["action"]) for h in logged] == [("staff:useradmin",
                                                            "roles.profile.put")]
    # Edit: the second row removed, a row added, the name changed.
    r = site.post(f"{BASE}/profiles/CIRC", {
        "name": "Desk", "role_type_0": "32", "scope_0": "LIB_A", "parameters_0": "DESK_A",
        "role_type_1": "21", "remove_1": "1", "role_type_2": "200"})
    assert r.status_code == 303, r.text
    assert [(p.role_type, p.scope) for p in config(site)[0]["CIRC"].roles] == [
        ("32", "LIB_A"), ("200", None)]
    assert config(site)[0]["CIRC"].name == "Desk"
    # Delete: the code must be typed.
    r = site.post(f"{BASE}/profiles/CIRC/delete", {"confirm": "nope"})
    assert form_error(r, "type its code") and "CIRC" in config(site)[0]
    r = site.post(f"{BASE}/profiles/CIRC/delete", {"confirm": "CIRC"})
    assert (r.status_code, r.headers["location"]) == (303, f"{BASE}?deleted=CIRC")
    assert "CIRC" not in config(site)[0]
    assert [h["action"] for h in history(site, "profile:CIRC")][-1] == "roles.profile.remove"


@pytest.mark.parametrize(("data", "text"), [
    ({"code": "two words"}, "1 to 64 letters"),
    ({"code": "PATRON"}, "exists already"),
    ({"code": "X" * 65}, "1 to 64 letters"),
    ({"name": ""}, "needs a name"),
    ({"name": "n" * 300}, "too long"),
    ({"name": "bad\u0000name"}, ""),
    ({"role_type_0": "777"}, "not a role type"),
    ({"role_type_0": INJECTION}, "not a role type"),
    ({"scope_0": "LIB_Z"}, "scope"),
    ({"parameters_0": "NO_SUCH_DESK"}, "circulation desk"),
    ({"role_type_1": "200", "parameters_1": "DESK_A"}, "takes no parameters"),
    ({"status_0": "MAYBE"}, "ACTIVE or INACTIVE"),
    ({"expiry_1": "31/01/2031"}, "YYYY-MM-DD"),
    ({"parameters_0": ",".join(["DESK_A"] * 21)}, "more than 20"),
    ({"role_type_0": "26", "scope_0": "LIB_A", "parameters_0": ""}, "scope"),
])
def test_bad_profile_input_is_a_form_error_and_nothing_is_saved(
    site: Site, data: dict[str, str], text: str
) -> None:
    site.sign_in("gsa")
    before = config(site)[0]
    r = site.post(f"{BASE}/profiles/new", {**PROFILE, **data})
    assert form_error(r, text), r.text[:3000]
    assert config(site)[0] == before
    assert "<script>alert" not in r.text


def test_a_profile_a_rule_uses_cannot_be_deleted_and_says_why(site: Site) -> None:
    site.sign_in("gsa")
    page = site.client.get(f"{BASE}/profiles/PATRON").text
    assert 'id="used-by"' in page and "default-patron" in page
    r = site.post(f"{BASE}/profiles/PATRON/delete", {"confirm": "PATRON"})
    assert form_error(r, "used by an assignment rule")
    assert "PATRON" in config(site)[0]
    assert refused(site.client.get(f"{BASE}/profiles/NOPE"), 404)
    assert refused(site.client.get(f"{BASE}/profiles/bad%20code"), 404)
    assert refused(site.post(f"{BASE}/profiles/NOPE", {"name": "x"}), 404)


def test_a_rule_is_created_applies_to_new_users_and_is_deleted(site: Site) -> None:
    site.sign_in("useradmin")
    assert site.post(f"{BASE}/profiles/new", PROFILE).status_code == 303
    r = site.post(f"{BASE}/rules/new", {"rule_id": "circ", "profile": "CIRC",
                                        "position": "5", "record_type": "STAFF",
                                        "job_category": "Circulation"})
    assert (r.status_code, r.headers["location"]) == (303, f"{BASE}/rules/circ?saved=1")
    rule = next(r for r in config(site)[1] if r.rule_id == "circ")
    assert (rule.profile, rule.position, rule.record_types, rule.job_categories,
            rule.user_groups) == ("CIRC", 5, {"STAFF"}, {"Circulation"}, frozenset())
    assert history(site, "rule:circ")[0]["actor"] == "staff:useradmin"
    made = site.container.users.create("MAIN", UserInput(User(
        "clerk", last_name="Clerk", record_type="STAFF", user_group="STAFF",
        job_category="Circulation")), "test")
    assert [(x.role_type, x.scope) for x in made.roles] == [("32", "LIB_A")]
    # Edit in place: a condition added, the record type box unticked.
    r = site.post(f"{BASE}/rules/circ", {"profile": "CIRC", "position": "5",
                                         "user_group": "STAFF", "campus": "Main"})
    assert r.status_code == 303, r.text
    rule = next(r for r in config(site)[1] if r.rule_id == "circ")
    assert (rule.user_groups, rule.campuses, rule.record_types) == (
        {"STAFF"}, {"Main"}, frozenset())
    page = site.client.get(r.headers["location"]).text
    assert "The rule was saved." in page and 'value="Main" id="campus-1" checked' in page
    r = site.post(f"{BASE}/rules/circ/delete", {})
    assert (r.status_code, r.headers["location"]) == (303, f"{BASE}?deleted=circ")
    assert all(r.rule_id != "circ" for r in config(site)[1])
    assert [h["action"] for h in history(site, "rule:circ")][-1] == "roles.rule.remove"
    assert refused(site.client.get(f"{BASE}/rules/circ"), 404)
    assert refused(site.post(f"{BASE}/rules/circ/delete", {}), 404)


@pytest.mark.parametrize(("data", "text"), [
    ({"rule_id": "default-patron"}, "exists already"),
    ({"rule_id": "a b"}, "1 to 64 letters"),
    ({"rule_id": ""}, "1 to 64 letters"),
    ({"profile": "NOPE"}, "Choose one of the role profiles"),
    ({"profile": INJECTION}, "Choose one of the role profiles"),
    ({"position": "-1"}, "whole number"),
    ({"position": "99999"}, "whole number"),
    ({"user_group": "MARTIANS"}, "not one of the choices"),
    ({"record_type": "ROBOT"}, "not one of the choices"),
    ({"job_category": INJECTION}, "not one of the choices"),
    ({"campus": "x" * 5000}, "not one of the choices"),
])
def test_bad_rule_input_is_a_form_error_and_nothing_is_saved(
    site: Site, data: dict[str, str], text: str
) -> None:
    site.sign_in("gsa")
    before = config(site)[1]
    r = site.post(f"{BASE}/rules/new", {"rule_id": "r1", "profile": "PATRON", **data})
    assert form_error(r, text), r.text[:3000]
    assert config(site)[1] == before
    assert "<script>alert" not in r.text


def test_the_tester_shows_which_rule_gives_what_and_changes_nothing(site: Site) -> None:
    site.sign_in("useradmin")
    site.post(f"{BASE}/profiles/new", PROFILE)
    site.post(f"{BASE}/rules/new", {"rule_id": "circ", "profile": "CIRC",
                                    "record_type": "STAFF", "job_category": "Circulation"})
    before = config(site)
    page = site.client.get(f"{BASE}/tester", params={
        "record_type": "STAFF", "job_category": "Circulation", "user_group": "STAFF"})
    assert page.status_code == 200
    trace = re.search(r'<tr id="trace-circ">.*?</tr>', page.text, re.S)
    assert trace is not None and "<td>yes</td>" in trace.group(0)
    assert "Circulation Desk Operator (LIB_A, DESK_A)" in trace.group(0)
    other = re.search(r'<tr id="trace-default-patron">.*?</tr>', page.text, re.S)
    assert other is not None and "<td>no</td>" in other.group(0)
    assert "record type STAFF is not among PUBLIC" in other.group(0)
    assert re.search(r'id="profiles-given"><strong>Profiles given:</strong> CIRC\.', page.text)
    # A stored user: jdoe (PUBLIC) gets PATRON, which they already hold.
    page = site.client.get(f"{BASE}/tester", params={"primary_id": "jdoe"}).text
    assert "Profiles given:</strong> PATRON." in page
    assert re.search(r'id="roles-added">.*?none\.', page)
    # A CONTACT user gets nothing, whatever matches.
    page = site.client.get(f"{BASE}/tester", params={"record_type": "CONTACT"}).text
    assert 'id="contact"' in page and "Profiles given:</strong> none." in page
    assert config(site) == before
    assert site.container.users.get("MAIN", "jdoe").roles[0].role_type == "200"


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"primary_id": "nobody"}, 404, "nobody"),
    ({"primary_id": INJECTION}, 404, "not found"),
    ({"primary_id": "x" * 300}, 400, "too long"),
    ({"record_type": "ROBOT"}, 400, "PUBLIC, STAFF or CONTACT"),
])
def test_bad_tester_input_is_a_form_error(
    site: Site, params: dict[str, str], status: int, text: str
) -> None:
    site.sign_in("gsa")
    r = site.client.get(f"{BASE}/tester", params=params)
    assert r.status_code == status and 'id="form-error"' in r.text
    assert text.lower() in r.text.lower() and "<script>alert" not in r.text


def test_restricted_accounts_are_marked_listed_and_unmarked(site: Site) -> None:
    site.sign_in("useradmin")
    page = site.client.get(f"{BASE}/restricted").text
    listed = re.search(r'<table id="accounts">.*?</table>', page, re.S)
    assert listed is not None
    assert ">gsa<" in listed.group(0) and ">useradmin<" in listed.group(0)  # 26 and 50
    assert ">jdoe<" not in listed.group(0)
    r = site.post(f"{BASE}/restricted", {"user_group": "UNDERGRAD", "role_type": "32"})
    assert (r.status_code, r.headers["location"]) == (303, f"{BASE}/restricted?saved=1")
    assert config(site)[2] == RestrictedSettings(frozenset({"UNDERGRAD"}), frozenset({"32"}))
    page = site.client.get(r.headers["location"]).text
    listed = re.search(r'<table id="accounts">.*?</table>', page, re.S)
    assert listed is not None
    for who, why in (("jdoe", "user group UNDERGRAD"), ("patron", "user group UNDERGRAD"),
                     ("desk", "role Circulation Desk Operator")):
        row = re.search(rf">{who}</a>.*?</tr>", listed.group(0), re.S)
        assert row is not None and why in row.group(0), who
    assert history(site, "restricted")[-1]["detail"] == {"user_groups": ["UNDERGRAD"],
                                                         "role_types": ["32"]}
    assert site.post(f"{BASE}/restricted", {}).status_code == 303  # every box unticked
    assert config(site)[2] == RestrictedSettings()


@pytest.mark.parametrize("data", [
    {"user_group": "MARTIANS"}, {"role_type": "777"}, {"role_type": INJECTION},
    {"user_group": "x" * 5000},
])
def test_bad_restricted_input_is_a_form_error(site: Site, data: dict[str, str]) -> None:
    site.sign_in("gsa")
    r = site.post(f"{BASE}/restricted", data)
    assert form_error(r, "not one of the choices") and "<script>alert" not in r.text
    assert config(site)[2] == RestrictedSettings()


PAGES = (BASE, f"{BASE}/profiles/new", f"{BASE}/profiles/PATRON", f"{BASE}/rules/new",
         f"{BASE}/rules/default-patron", f"{BASE}/tester", f"{BASE}/tester?primary_id=jdoe",
         f"{BASE}/restricted")
POSTS = ((f"{BASE}/profiles/new", PROFILE), (f"{BASE}/profiles/PATRON", {"name": "Hacked"}),
         (f"{BASE}/profiles/PATRON/delete", {"confirm": "PATRON"}),
         (f"{BASE}/rules/new", {"rule_id": "r", "profile": "PATRON"}),
         (f"{BASE}/rules/default-patron", {"profile": "PATRON", "user_group": "STAFF"}),
         (f"{BASE}/rules/default-patron/delete", {}),
         (f"{BASE}/restricted", {"user_group": "STAFF"}))


def test_a_user_manager_a_desk_and_a_patron_are_refused_everywhere(site: Site) -> None:
    before = config(site)
    for who in ("manager", "desk", "patron"):
        site.sign_in(who)
        for url in PAGES:
            assert refused(site.client.get(url)), (who, url)
    site.sign_in("manager")
    assert 'href="/staff/admin/roles"' not in site.client.get("/staff/roles").text
    for url, data in POSTS:
        assert refused(site.post(url, data)), url
    assert config(site) == before


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    site.sign_in("gsa")
    before = config(site)
    for url, data in POSTS:
        r = site.client.post(url, data=data, follow_redirects=False)
        assert refused(r), url
        r = site.client.post(url, data={**data, "csrf_token": "forged"},
                             follow_redirects=False)
        assert refused(r), url
    assert config(site) == before


def test_a_user_manager_cannot_change_a_restricted_account_on_any_path(site: Site) -> None:
    """jdoe (UNDERGRAD) made restricted by its group: a user manager sees it read-only and is
    refused every change, on the pages and with a staff token; a user administrator is not;
    unmarked, the user manager may edit again."""
    c = site.container
    c.roles.set_restricted("MAIN", RestrictedSettings(frozenset({"UNDERGRAD"})), "test")
    token = c.tokens.issue("MAIN", "manager")[1]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    before = c.users.get("MAIN", "jdoe")
    site.sign_in("manager")
    page = site.client.get("/staff/users/jdoe").text
    assert 'id="edit-reason"' in page and 'id="general-form"' not in page
    assert 'id="delete-link"' not in page
    general = {"first_name": "Hacked", "last_name": "Doe-Müller", "user_group": "UNDERGRAD",
               "status": "ACTIVE"}
    for url, data in (("/staff/users/jdoe/general", general),
                      ("/staff/users/jdoe/emails/add", {"email_address": "x@example.org",
                                                        "email_type": "personal"}),
                      ("/staff/users/jdoe/roles/add", {"role_type": "21", "scope": "MAIN"}),
                      ("/staff/users/jdoe/roles/recalculate", {}),
                      ("/staff/users/jdoe/delete", {"confirm": "jdoe"})):
        assert refused(site.post(url, data)), url
    assert refused(site.client.get("/staff/users/jdoe/delete"))
    # a new user in a restricted group cannot be made either
    new = site.post("/staff/users/new", {"primary_id": "sneak", "first_name": "S",
                                         "last_name": "Neak", "user_group": "UNDERGRAD",
                                         "record_type": "PUBLIC"})
    assert refused(new)
    # the staff token: reading is allowed, every write refused
    got = site.client.get("/almaws/v1/users/jdoe", headers=bearer)
    assert got.status_code == 200
    body = got.json()
    body["first_name"] = "Hacked"
    assert site.client.put("/almaws/v1/users/jdoe", json=body, headers=bearer
                           ).status_code == 403
    assert site.client.delete("/almaws/v1/users/jdoe", headers=bearer).status_code == 403
    for action in ("unlock", "password-reset"):  # sign-in management of the account
        assert site.client.post(f"/bookplate/v1/users/jdoe/{action}", headers=bearer
                                ).status_code == 403, action
    assert site.client.get("/bookplate/v1/users/jdoe/lockout", headers=bearer
                           ).status_code == 200  # seeing it is allowed
    made = site.client.post("/almaws/v1/users", headers=bearer, json={
        "primary_id": "sneak2", "first_name": "S", "last_name": "Neak",
        "user_group": {"value": "UNDERGRAD"}, "record_type": {"value": "PUBLIC"},
        "account_type": {"value": "INTERNAL"}, "status": {"value": "ACTIVE"}})
    assert made.status_code == 403, made.text
    after = c.users.get("MAIN", "jdoe")
    assert (after.first_name, after.roles, after.contact_info) == (
        before.first_name, before.roles, before.contact_info)
    for pid in ("sneak", "sneak2"):
        assert not c.users.search(_by_id(pid)).users
    # a user administrator may; unmarked, the user manager may again
    site.sign_in("useradmin")
    assert site.post("/staff/users/jdoe/general", {**general, "first_name": "Josée"}
                     ).status_code == 303
    c.roles.set_restricted("MAIN", RestrictedSettings(), "test")
    site.sign_in("manager")
    assert site.post("/staff/users/jdoe/general", {**general, "first_name": "José"}
                     ).status_code == 303
    assert c.users.get("MAIN", "jdoe").first_name == "José"
    body = site.client.get("/almaws/v1/users/jdoe", headers=bearer).json()
    assert site.client.put("/almaws/v1/users/jdoe", json=body, headers=bearer
                           ).status_code == 200


def _by_id(primary_id: str) -> Any:
    from bookplate.users.queries import Condition, Term, UserSearch

    return UserSearch("MAIN", conditions=(Condition(("primary_id",), (Term(primary_id),)),))


def test_a_profile_of_many_roles_is_saved_and_a_huge_form_is_refused(site: Site) -> None:
    site.sign_in("gsa")
    rows = {}
    for i in range(60):  # 60 roles: 360 fields, more than the other staff forms take
        rows.update({f"role_type_{i}": "32", f"scope_{i}": "LIB_A",
                     f"status_{i}": "ACTIVE", f"parameters_{i}": "DESK_A",
                     f"expiry_{i}": f"2040-01-{1 + i % 28:02d}"})
    r = site.post(f"{BASE}/profiles/new", {"code": "BIG", "name": "Big", **rows})
    assert r.status_code == 303, r.text[:2000]
    assert len(config(site)[0]["BIG"].roles) == 60
    page = site.client.get(f"{BASE}/profiles/BIG").text
    assert 'id="role_type_63"' in page and 'id="role_type_64"' not in page  # + 4 empty
    r = site.post(f"{BASE}/profiles/BIG", {"name": "Big", "role_type_0": "200",
                                           "parameters_0": "x" * 700_000})
    assert refused(r, 400) and "could not be read" in r.text
    assert len(config(site)[0]["BIG"].roles) == 60
