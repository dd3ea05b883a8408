"""The institution keeps an active, unexpired General System Administrator whatever the change
and whoever asks (issue 13, item 6): API key, staff token, SIS sync. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bookplate.sis.model import MissingPolicy, Profile
from bookplate.users.model import Role, User, UserInput
from tests.functional.conftest import Api
from tests.functional.test_roles_api import admin_body
from tests.functional.test_users_api import create, error_code
from tests.integration.sis.helpers import user_xml, users_doc

GSA = {"role_type": {"value": "26"}, "scope": {"value": "MAIN"}, "status": {"value": "ACTIVE"}}


def record(api: Api, primary_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.client.get(
        f"/almaws/v1/users/{primary_id}", headers=api.h()
    ).json()
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


CHANGES = {
    "inactive": lambda r: r.update(status={"value": "INACTIVE"}),
    "expired": lambda r: r.update(expiry_date="2001-01-01Z"),
    "role inactive": lambda r: r.update(user_role=[{**GSA, "status": {"value": "INACTIVE"}}]),
    "role expired": lambda r: r.update(user_role=[{**GSA, "expiry_date": "2001-01-01Z"}]),
    "role removed": lambda r: r.update(
        user_role=[{"role_type": {"value": "21"}, "scope": {"value": "MAIN"}}]
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_api_key_cannot_disable_the_last_administrator(api: Api, change: str) -> None:
    assert create(api, admin_body("admin1")).status_code == 200
    before = record(api, "admin1")
    sent = record(api, "admin1")
    CHANGES[change](sent)
    r = api.client.put("/almaws/v1/users/admin1", json=sent, headers=api.h())
    assert (r.status_code, error_code(r)) == (400, "401860"), r.text
    assert "General System Administrator" in r.json()["errorList"]["error"][0]["errorMessage"]
    assert record(api, "admin1") == before  # nothing written


def test_only_working_administrators_count(api: Api) -> None:
    """A second administrator who is inactive, expired or holds an expired role does not let
    the first go; an active one does."""
    assert create(api, admin_body("admin1")).status_code == 200
    sent = record(api, "admin1")
    sent["status"] = {"value": "INACTIVE"}
    for name, extra in (
        ("sleeping", {"status": {"value": "INACTIVE"}}),
        ("lapsed", {"expiry_date": "2001-01-01Z"}),
        ("old_role", {"user_role": [{**GSA, "expiry_date": "2001-01-01Z"}]}),
    ):
        assert create(api, admin_body(name, **extra)).status_code == 200
        r = api.client.put("/almaws/v1/users/admin1", json=sent, headers=api.h())
        assert (r.status_code, error_code(r)) == (400, "401860"), name
    assert create(api, admin_body("admin2")).status_code == 200
    assert api.client.put("/almaws/v1/users/admin1", json=sent, headers=api.h()).status_code == 200
    # Now admin2 is the last one: not even its own delete goes through.
    last = api.client.delete("/almaws/v1/users/admin2", headers=api.h())
    assert (last.status_code, error_code(last)) == (400, "401860")


def test_staff_tokens_cannot_disable_the_last_administrator(api: Api) -> None:
    c = api.container
    c.users.create(
        "MAIN",
        UserInput(User("admin1", record_type="STAFF", user_group="STAFF", last_name="Admin",
                       roles=[Role("26", "MAIN")])),
        "t",
    )
    c.users.create(
        "MAIN",
        UserInput(User("useradmin", record_type="STAFF", user_group="STAFF", last_name="Ua",
                       roles=[Role("50", "MAIN")])),
        "t",
    )
    own = c.tokens.issue("MAIN", "admin1")[1]
    user_admin = c.tokens.issue("MAIN", "useradmin")[1]
    for token in (own, user_admin):
        for change in ("inactive", "expired"):
            sent = record(api, "admin1")
            CHANGES[change](sent)
            r = api.client.put("/almaws/v1/users/admin1", json=sent, headers=bearer(token))
            assert (r.status_code, error_code(r)) == (400, "401860"), (change, r.text)
    assert c.users.get("MAIN", "admin1").status == "ACTIVE"


# -- the SIS ---------------------------------------------------------------------------------


@pytest.fixture
def sis_admin(api: Api, tmp_path: Path) -> Path:
    """An external user of the profile SIS, made the only administrator by a PUT."""
    c = api.container
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    path = tmp_path / "day1.xml"
    path.write_bytes(users_doc(user_xml("hr1", group="STAFF"), user_xml("hr2", group="STAFF")))
    assert c.sis.run("MAIN", "SIS", path).counts["create"] == 2
    sent = record(api, "hr1")
    sent["user_role"] = [GSA]
    assert api.client.put("/almaws/v1/users/hr1", json=sent, headers=api.h()).status_code == 200
    return path


@pytest.mark.parametrize(
    "extra",
    ["<status>INACTIVE</status>", "<expiry_date>2001-01-01Z</expiry_date>"],
)
def test_sis_record_that_would_disable_the_last_administrator_is_rejected(
    api: Api, sis_admin: Path, tmp_path: Path, extra: str
) -> None:
    c = api.container
    path = tmp_path / "day2.xml"
    path.write_bytes(
        users_doc(user_xml("hr1", group="STAFF", extra=extra), user_xml("hr2", last="Park"))
    )
    dry = c.sis.run("MAIN", "SIS", path, dry_run=True)
    assert dry.counts["reject"] == 1
    report = c.sis.run("MAIN", "SIS", path)
    assert report.exit_code == 1
    assert (report.counts["reject"], report.counts["update"]) == (1, 1)
    (item,) = c.sis.items(report.run_id or 0, kind="reject")
    assert item.match_id == "hr1"
    assert "General System Administrator" in (item.detail or "")
    hr1 = c.users.get("MAIN", "hr1")
    assert (hr1.status, hr1.expiry_date) == ("ACTIVE", None)
    assert c.users.get("MAIN", "hr2").last_name == "Park"  # the rest of the file went on


def test_sis_may_disable_an_administrator_when_another_remains(
    api: Api, sis_admin: Path, tmp_path: Path
) -> None:
    assert create(api, admin_body("local_admin")).status_code == 200
    path = tmp_path / "day2.xml"
    path.write_bytes(users_doc(user_xml("hr1", group="STAFF", extra="<status>INACTIVE</status>")))
    report = api.container.sis.run("MAIN", "SIS", path)
    assert report.counts["update"] == 1 and report.exit_code == 0
    assert api.container.users.get("MAIN", "hr1").status == "INACTIVE"


@pytest.mark.parametrize("policy", [MissingPolicy.DEACTIVATE, MissingPolicy.EXPIRE])
def test_missing_users_policy_spares_the_last_administrator(
    api: Api, sis_admin: Path, tmp_path: Path, policy: MissingPolicy
) -> None:
    c = api.container
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = policy
    profile.guard_share = 1.0
    c.sis.update_profile(profile)
    path = tmp_path / "day2.xml"
    path.write_bytes(users_doc(user_xml("other", group="STAFF")))  # hr1 and hr2 are missing
    report = c.sis.run("MAIN", "SIS", path)
    assert report.counts["deactivate"] == 1 and report.counts["reject"] == 1
    (item,) = c.sis.items(report.run_id or 0, kind="reject")
    assert item.primary_id == "hr1" and "General System Administrator" in (item.detail or "")
    hr1, hr2 = c.users.get("MAIN", "hr1"), c.users.get("MAIN", "hr2")
    assert (hr1.status, hr1.expiry_date) == ("ACTIVE", None)  # left as it was
    if policy is MissingPolicy.DEACTIVATE:
        assert hr2.status == "INACTIVE"
    else:
        assert hr2.expiry_date is not None
