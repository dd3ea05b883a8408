"""Roles on every path through the API: assignment rules, validation, the last administrator."""

from __future__ import annotations

from typing import Any

from bookplate.roles.model import AssignmentRule, Library, ProfileRole, RoleProfile
from tests.functional.conftest import Api
from tests.functional.test_users_api import body, create, error_code


def roles_of(api: Api, primary_id: str) -> list[tuple[str, str]]:
    user = api.client.get(f"/almaws/v1/users/{primary_id}", headers=api.h()).json()
    return [(r["role_type"]["value"], r["scope"]["value"]) for r in user["user_role"]]


def admin_body(primary_id: str, **extra: Any) -> dict[str, Any]:
    data = body(
        primary_id,
        record_type={"value": "STAFF"},
        user_group={"value": "STAFF"},
        user_role=[
            {
                "role_type": {"value": "26"},
                "scope": {"value": "MAIN"},
                "status": {"value": "ACTIVE"},
            }
        ],
    )
    data.update(extra)
    return data


def test_new_patrons_get_patron_role_from_the_default_rule(api: Api) -> None:
    assert create(api, body("p1")).status_code == 200
    assert roles_of(api, "p1") == [("200", "MAIN")]
    staff = body("s1", record_type={"value": "STAFF"}, user_group={"value": "STAFF"})
    assert create(api, staff).status_code == 200
    assert roles_of(api, "s1") == []


def test_rules_and_recalculate_roles(api: Api) -> None:
    api.container.roles.put_library(
        "MAIN", Library("LIB_A", "Library A", frozenset({"D1"})), "test"
    )
    api.container.roles.put_profile(
        "MAIN", RoleProfile("FAC", "Faculty", (ProfileRole("231", "LIB_A"),)), "test"
    )
    create(api, body("f1", user_group={"value": "GRAD"}))
    assert roles_of(api, "f1") == [("200", "MAIN")]
    api.container.roles.put_rule(
        "MAIN", AssignmentRule("fac", "FAC", user_groups=frozenset({"FACULTY"})), "test"
    )
    current = api.client.get("/almaws/v1/users/f1", headers=api.h()).json()
    current["user_group"] = {"value": "FACULTY"}
    plain = api.client.put("/almaws/v1/users/f1", json=current, headers=api.h())
    assert plain.status_code == 200
    assert roles_of(api, "f1") == [("200", "MAIN")]  # rules run on PUT only when asked
    again = api.client.put(
        "/almaws/v1/users/f1?recalculate_roles=true", json=current, headers=api.h()
    )
    assert again.status_code == 200, again.text
    assert roles_of(api, "f1") == [("200", "MAIN"), ("231", "LIB_A")]
    history = api.container.roles.history("MAIN")
    assert [h["action"] for h in history][-3:] == [
        "roles.library.put",
        "roles.profile.put",
        "roles.rule.put",
    ]
    assert all(h["actor"] == "test" and h["at"] is not None for h in history[-3:])


def test_role_validation_through_the_api(api: Api) -> None:
    def with_roles(*roles: dict[str, Any]) -> Any:
        return create(api, body("r1", user_role=list(roles)))

    assert (
        error_code(with_roles({"role_type": {"value": "424242"}, "scope": {"value": "MAIN"}}))
        == "401864"
    )
    assert (
        error_code(with_roles({"role_type": {"value": "21"}, "scope": {"value": "OTHER"}}))
        == "401864"
    )
    assert (
        error_code(
            with_roles(
                {
                    "role_type": {"value": "32"},
                    "scope": {"value": "NOLIB"},
                    "parameter": [
                        {
                            "type": {"value": "CirculationDesk"},
                            "scope": {"value": "NOLIB"},
                            "value": {"value": "D"},
                        }
                    ],
                }
            )
        )
        == "401864"
    )
    assert (
        error_code(
            with_roles(
                {
                    "role_type": {"value": "200"},
                    "scope": {"value": "MAIN"},
                    "parameter": [{"type": {"value": "CirculationDesk"}, "value": {"value": "D"}}],
                }
            )
        )
        == "40166404"
    )
    many = [{"role_type": {"value": "200"}, "scope": {"value": "MAIN"}}] * 1000
    assert error_code(with_roles(*many)) == "40166404"
    assert api.client.get("/almaws/v1/users/r1", headers=api.h()).status_code == 400
    past = with_roles(
        {"role_type": {"value": "21"}, "scope": {"value": "MAIN"}, "expiry_date": "2001-01-01Z"}
    )
    assert past.status_code == 200  # stored as sent; an expired role grants nothing


def test_the_last_administrator_stays(api: Api) -> None:
    assert create(api, admin_body("admin1")).status_code == 200
    demoted = api.client.get("/almaws/v1/users/admin1", headers=api.h()).json()
    demoted["user_role"] = [{"role_type": {"value": "21"}, "scope": {"value": "MAIN"}}]
    r = api.client.put("/almaws/v1/users/admin1", json=demoted, headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "401860")
    d = api.client.delete("/almaws/v1/users/admin1", headers=api.h())
    assert (d.status_code, error_code(d)) == (400, "401860")
    assert roles_of(api, "admin1") == [("26", "MAIN")]
    # with a second administrator the first may go
    assert create(api, admin_body("admin2")).status_code == 200
    assert (
        api.client.put("/almaws/v1/users/admin1", json=demoted, headers=api.h()).status_code == 200
    )
    assert api.client.delete("/almaws/v1/users/admin1", headers=api.h()).status_code == 204
    last = api.client.delete("/almaws/v1/users/admin2", headers=api.h())
    assert error_code(last) == "401860"
