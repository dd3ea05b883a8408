"""The last General System Administrator holds under concurrency (issue 15): two writes that
each take away one of the last two administrators run at once; one goes through, the other
is refused; likewise an SIS run and a staff change. SQLite and PostgreSQL, two threads, the
real user and SIS services."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bookplate.roles import services as roles_services
from bookplate.roles.errors import LastAdministrator
from bookplate.sis.model import MissingPolicy, Profile
from bookplate.users.model import User
from tests.functional.conftest import Api
from tests.functional.test_last_admin import GSA
from tests.functional.test_roles_api import admin_body
from tests.functional.test_users_api import create
from tests.integration.sis.helpers import user_xml, users_doc


def _deactivate(user: User) -> None:
    user.status = "INACTIVE"


CHANGES: dict[str, Callable[[Api, str], object]] = {
    "delete": lambda api, name: api.container.users.delete("MAIN", name),
    "deactivate": lambda api, name: api.container.users.staff_update(
        "MAIN", name, _deactivate, "staff"
    ),
}


@pytest.fixture
def both_read_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each write, once it has read the administrators, waits (up to 3 s) until the other
    has read them too. Without the institution's lock both then see two administrators and
    both commit; with it the second cannot read before the first ends, the wait runs out,
    and the second reads what the first left."""
    real = roles_services._administrators
    barrier = threading.Barrier(2, timeout=3)

    def read_then_wait(*args: object) -> set[str]:
        found = real(*args)  # type: ignore[arg-type]  # the same arguments, passed through
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(roles_services, "_administrators", read_then_wait)


@pytest.mark.parametrize("second", sorted(CHANGES))
@pytest.mark.parametrize("first", sorted(CHANGES))
@pytest.mark.usefixtures("both_read_first")
def test_two_concurrent_removals_leave_one_administrator(
    api: Api, first: str, second: str
) -> None:
    for name in ("admin1", "admin2"):
        assert create(api, admin_body(name)).status_code == 200
    outcome: dict[str, str] = {}

    def run(name: str, change: str) -> None:
        try:
            CHANGES[change](api, name)
            outcome[name] = "done"
        except LastAdministrator:
            outcome[name] = "refused"
        except Exception as exc:  # any other failure is reported by the assertion below
            outcome[name] = repr(exc)

    threads = [
        threading.Thread(target=run, args=("admin1", first)),
        threading.Thread(target=run, args=("admin2", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcome.values()) == ["done", "refused"], outcome
    (kept,) = [name for name, result in outcome.items() if result == "refused"]
    stored = api.container.users.get("MAIN", kept)
    assert stored.status == "ACTIVE" and api.container.users.roles is not None
    assert api.container.users.roles.is_administrator(stored)


# -- an SIS run against an API change ------------------------------------------------------


def _sis_and_local_admin(api: Api, tmp_path: Path) -> None:
    """hr1, an external user of the profile SIS, and admin2, a local one: both
    administrators (hr2 is an external user who is not)."""
    c = api.container
    c.sis.create_profile(
        Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD", guard_share=1.0)
    )
    path = tmp_path / "day1.xml"
    path.write_bytes(users_doc(user_xml("hr1", group="STAFF"), user_xml("hr2", group="STAFF")))
    assert c.sis.run("MAIN", "SIS", path).counts["create"] == 2
    sent = api.client.get("/almaws/v1/users/hr1", headers=api.h()).json()
    sent["user_role"] = [GSA]
    assert api.client.put("/almaws/v1/users/hr1", json=sent, headers=api.h()).status_code == 200
    assert create(api, admin_body("admin2")).status_code == 200


SIS_CHANGES = {
    # hr1's record makes it inactive
    "update": (MissingPolicy.OFF, lambda: users_doc(
        user_xml("hr1", group="STAFF", extra="<status>INACTIVE</status>"),
        user_xml("hr2", group="STAFF"),
    )),
    # hr1 is missing from the file
    "missing": (MissingPolicy.DEACTIVATE, lambda: users_doc(user_xml("hr2", group="STAFF"))),
}


@pytest.mark.parametrize("sis_change", sorted(SIS_CHANGES))
@pytest.mark.usefixtures("both_read_first")
def test_an_sis_run_and_an_api_change_leave_one_administrator(
    api: Api, tmp_path: Path, sis_change: str
) -> None:
    """The SIS takes hr1 away while a staff change takes admin2 away: the SIS reads the
    administrators again under the institution's lock when it writes, so one of the two is
    refused (the SIS's as a rejected record)."""
    _sis_and_local_admin(api, tmp_path)
    c = api.container
    policy, document = SIS_CHANGES[sis_change]
    profile = c.sis.profile("MAIN", "SIS")
    profile.missing_policy = policy
    c.sis.update_profile(profile)
    path = tmp_path / "day2.xml"
    path.write_bytes(document())
    outcome: dict[str, str] = {}

    def sis() -> None:
        try:
            report = c.sis.run("MAIN", "SIS", path)
            outcome["hr1"] = "refused" if report.counts["reject"] else "done"
        except Exception as exc:  # reported by the assertion below
            outcome["hr1"] = repr(exc)

    def staff() -> None:
        try:
            c.users.staff_update("MAIN", "admin2", _deactivate, "staff")
            outcome["admin2"] = "done"
        except LastAdministrator:
            outcome["admin2"] = "refused"
        except Exception as exc:  # reported by the assertion below
            outcome["admin2"] = repr(exc)

    threads = [threading.Thread(target=sis), threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcome.values()) == ["done", "refused"], outcome
    (kept,) = [name for name, result in outcome.items() if result == "refused"]
    assert c.users.roles is not None
    assert c.users.roles.is_administrator(c.users.get("MAIN", kept))
    assert c.users.get("MAIN", "hr2").status == "ACTIVE"  # the rest of the file went on
