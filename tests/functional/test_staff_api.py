"""Staff members with bearer tokens: every action through the policy, and /bookplate/v1."""

from __future__ import annotations

from typing import Any

import pytest

from bookplate.keys.services import parse_areas
from bookplate.roles.model import Library
from bookplate.users.model import Identifier, Role, RoleParameter, User, UserInput
from tests.functional.conftest import Api
from tests.functional.test_users_api import body, error_code


@pytest.fixture
def staff(api: Api) -> dict[str, str]:
    """Tokens for an administrator, a user manager, a desk operator and a patron."""
    c = api.container
    c.roles.put_library("MAIN", Library("LIB_A", "Library A", frozenset({"DESK_A"})), "test")
    c.roles.put_library("MAIN", Library("LIB_B", "Library B", frozenset({"DESK_B"})), "test")
    people = {
        "admin": [Role("26", "MAIN")],
        "manager": [Role("21", "MAIN")],
        "desk": [
            Role("32", "LIB_A", parameters=[RoleParameter("CirculationDesk", "LIB_A", "DESK_A")])
        ],
        "patron": [Role("200", "MAIN")],
    }
    tokens = {}
    for name, roles in people.items():
        record_type = "PUBLIC" if name == "patron" else "STAFF"
        group = "UNDERGRAD" if name == "patron" else "STAFF"
        c.users.create(
            "MAIN",
            UserInput(
                User(
                    name,
                    record_type=record_type,
                    user_group=group,
                    last_name=name.title(),
                    roles=roles,
                    identifiers=[Identifier("BARCODE", f"BC-{name}")],
                )
            ),
            "t",
        )
        # the patron's token stands for one whose staff roles were taken away after it was
        # issued: every call is then refused by the policy
        tokens[name] = c.tokens.issue("MAIN", name, staff_only=name != "patron")[1]
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def test_capabilities(api: Api, staff: dict[str, str]) -> None:
    def caps(who: str) -> dict[str, Any]:
        r = api.client.get("/bookplate/v1/me/capabilities", headers=bearer(staff[who]))
        assert r.status_code == 200, r.text
        return dict(r.json())

    admin = caps("admin")
    assert set(admin["menus"]) >= {
        "users",
        "roles",
        "user-management-configuration",
        "api-keys",
        "sis-jobs",
    }
    manager = caps("manager")
    assert manager["menus"] == ["users", "roles"]
    assert manager["privileges"]["users.edit_staff"] == ["MAIN"]
    desk = caps("desk")
    assert desk["menus"] == ["users"]
    assert desk["privileges"]["users.create_patrons"] == ["LIB_A"]
    assert "users.view_identifiers" not in desk["privileges"]
    assert caps("patron")["menus"] == []
    by_key = api.client.get("/bookplate/v1/me/capabilities", headers=api.h())
    assert (by_key.status_code, error_code(by_key)) == (403, "FORBIDDEN")
    forged = api.client.get("/bookplate/v1/me/capabilities", headers=bearer("bpt_nope_x"))
    assert (forged.status_code, error_code(forged)) == (401, "401866")


def test_staff_reads_follow_the_policy(api: Api, staff: dict[str, str]) -> None:
    seen = api.client.get("/almaws/v1/users/patron", headers=bearer(staff["desk"]))
    assert seen.status_code == 200
    assert seen.json()["user_identifier"] == []  # desks see the primary ID only
    full = api.client.get("/almaws/v1/users/patron", headers=bearer(staff["manager"])).json()
    assert full["user_identifier"][0]["value"] == "BC-patron"
    denied = api.client.get("/almaws/v1/users/desk", headers=bearer(staff["patron"]))
    assert (denied.status_code, error_code(denied)) == (403, "FORBIDDEN")
    listing = api.client.get("/almaws/v1/users", headers=bearer(staff["patron"]))
    assert listing.status_code == 403


def test_staff_writes_follow_the_policy(api: Api, staff: dict[str, str]) -> None:
    c = api.client
    # a desk operator registers patrons at their own desk's library, not elsewhere
    made = c.post(
        "/almaws/v1/users?library=LIB_A", json=body("newp"), headers=bearer(staff["desk"])
    )
    assert made.status_code == 200, made.text
    assert [r["role_type"]["value"] for r in made.json()["user_role"]] == ["200"]
    assert made.json()["created_by"] == "staff:desk"
    elsewhere = c.post(
        "/almaws/v1/users?library=LIB_B", json=body("newq"), headers=bearer(staff["desk"])
    )
    assert elsewhere.status_code == 403
    # a user manager may edit patrons and hand out what they hold, not more
    patron = c.get("/almaws/v1/users/patron", headers=api.h()).json()
    patron["user_role"].append(
        {"role_type": {"value": "21"}, "scope": {"value": "LIB_A"}, "status": {"value": "ACTIVE"}}
    )
    ok = c.put("/almaws/v1/users/patron", json=patron, headers=bearer(staff["manager"]))
    assert ok.status_code == 200, ok.text
    patron["user_role"].append(
        {"role_type": {"value": "50"}, "scope": {"value": "MAIN"}, "status": {"value": "ACTIVE"}}
    )
    escalate = c.put("/almaws/v1/users/patron", json=patron, headers=bearer(staff["manager"]))
    assert (escalate.status_code, error_code(escalate)) == (403, "FORBIDDEN")
    admin = c.get("/almaws/v1/users/admin", headers=api.h()).json()
    admin["first_name"] = "Changed"
    assert (
        c.put("/almaws/v1/users/admin", json=admin, headers=bearer(staff["manager"])).status_code
        == 403
    )
    assert c.delete("/almaws/v1/users/admin", headers=bearer(staff["manager"])).status_code == 403
    assert c.get("/almaws/v1/users/admin", headers=api.h()).json().get("first_name") is None


def test_restricted_accounts_by_group(api: Api, staff: dict[str, str]) -> None:
    c = api.client
    other = c.get("/almaws/v1/users/desk", headers=api.h()).json()
    other["first_name"] = "Edited"
    assert (
        c.put("/almaws/v1/users/desk", json=other, headers=bearer(staff["manager"])).status_code
        == 200
    )
    r = c.put(
        "/bookplate/v1/roles/restricted",
        json={"user_groups": ["STAFF"]},
        headers=bearer(staff["admin"]),
    )
    assert r.status_code == 200, r.text
    other["first_name"] = "Again"
    blocked = c.put("/almaws/v1/users/desk", json=other, headers=bearer(staff["manager"]))
    assert (blocked.status_code, error_code(blocked)) == (403, "FORBIDDEN")
    by_admin = c.put("/almaws/v1/users/desk", json=other, headers=bearer(staff["admin"]))
    assert by_admin.status_code == 200


def test_configuration_api(api: Api, staff: dict[str, str]) -> None:
    c = api.client
    profile = {
        "name": "Circulation",
        "roles": [
            {
                "role_type": "32",
                "scope": "LIB_A",
                "parameters": [{"type": "CirculationDesk", "scope": "LIB_A", "value": "DESK_A"}],
            }
        ],
    }
    denied = c.put(
        "/bookplate/v1/roles/profiles/CIRC", json=profile, headers=bearer(staff["manager"])
    )
    assert (denied.status_code, error_code(denied)) == (403, "FORBIDDEN")
    ok = c.put("/bookplate/v1/roles/profiles/CIRC", json=profile, headers=bearer(staff["admin"]))
    assert ok.status_code == 200, ok.text
    rule = c.put(
        "/bookplate/v1/roles/rules/circ",
        headers=bearer(staff["admin"]),
        json={"profile": "CIRC", "job_categories": ["Circulation"], "record_types": ["STAFF"]},
    )
    assert rule.status_code == 200, rule.text
    listed = c.get("/bookplate/v1/roles/rules", headers=bearer(staff["admin"])).json()
    assert {r["rule_id"] for r in listed["rule"]} == {"default-patron", "circ"}
    made = c.post(
        "/almaws/v1/users",
        headers=api.h(),
        json=body(
            "clerk",
            record_type={"value": "STAFF"},
            user_group={"value": "STAFF"},
            job_category={"value": "Circulation"},
        ),
    )
    assert [(r["role_type"]["value"], r["scope"]["value"]) for r in made.json()["user_role"]] == [
        ("32", "LIB_A")
    ]
    history = c.get("/bookplate/v1/roles/history", headers=bearer(staff["admin"])).json()
    mine = [h for h in history["change"] if h["actor"] == "staff:admin"]
    assert [h["action"] for h in mine] == ["roles.profile.put", "roles.rule.put"]
    assert all(h["at"] for h in mine)
    # an API key needs the Configuration area read/write
    ro = c.put("/bookplate/v1/roles/profiles/X", json=profile, headers=api.h())
    assert (ro.status_code, error_code(ro)) == (400, "UNAUTHORIZED")
    _, rw = api.container.keys.create("MAIN", "conf-rw", parse_areas(["conf:rw"]))
    assert (
        c.put("/bookplate/v1/roles/profiles/X", json=profile, headers=api.h(rw)).status_code == 200
    )


@pytest.mark.parametrize(
    ("path", "payload", "code"),
    [
        (
            "/bookplate/v1/roles/profiles/BAD",
            {"name": "x", "roles": [{"role_type": "777"}]},
            "401864",
        ),
        (
            "/bookplate/v1/roles/profiles/BAD",
            {"name": "x", "roles": [{"role_type": "32", "scope": "LIB_Z"}]},
            "401864",
        ),
        ("/bookplate/v1/roles/profiles/BAD", {"name": "x", "surprise": 1}, "40166411"),
        ("/bookplate/v1/roles/profiles/BAD", {"name": "x" * 300}, "40166411"),
        ("/bookplate/v1/roles/profiles/BAD", {"name": 5}, "40166411"),
        ("/bookplate/v1/roles/rules/r1", {"profile": "NOPE"}, "402119"),
        (
            "/bookplate/v1/roles/rules/r1",
            {"profile": "PATRON", "record_types": ["ROBOT"]},
            "40166411",
        ),
        ("/bookplate/v1/roles/restricted", {"user_groups": ["x"] * 500}, "40166411"),
        ("/bookplate/v1/libraries/L1", {"name": "L", "circulation_desks": [""]}, "40166411"),
    ],
)
def test_configuration_bad_input(
    api: Api, staff: dict[str, str], path: str, payload: dict[str, Any], code: str
) -> None:
    r = api.client.put(path, json=payload, headers=bearer(staff["admin"]))
    assert r.status_code == 400, r.text
    assert error_code(r) == code


def test_malformed_json_and_path_injection(api: Api, staff: dict[str, str]) -> None:
    r = api.client.put(
        "/bookplate/v1/roles/profiles/X",
        content=b'{"name": ',
        headers={**bearer(staff["admin"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    bad = api.client.put(
        "/bookplate/v1/roles/profiles/a;drop", json={"name": "x"}, headers=bearer(staff["admin"])
    )
    assert bad.status_code == 400


def test_revoked_and_inactive_staff_lose_access(api: Api, staff: dict[str, str]) -> None:
    token_id, secret = api.container.tokens.issue("MAIN", "manager")
    assert api.client.get("/almaws/v1/users/patron", headers=bearer(secret)).status_code == 200
    api.container.tokens.revoke(token_id)
    revoked = api.client.get("/almaws/v1/users/patron", headers=bearer(secret))
    assert (revoked.status_code, error_code(revoked)) == (401, "401866")
    manager = api.client.get("/almaws/v1/users/manager", headers=api.h()).json()
    manager["status"] = {"value": "INACTIVE"}
    api.client.put("/almaws/v1/users/manager", json=manager, headers=api.h())
    inactive = api.client.get("/almaws/v1/users/patron", headers=bearer(staff["manager"]))
    assert (inactive.status_code, error_code(inactive)) == (401, "401866")
