"""The last General System Administrator holds under concurrency (issue 15): two writes that
each take away one of the last two administrators run at once; one goes through, the other
is refused. SQLite and PostgreSQL, two threads, the real user services."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest

from bookplate.roles import services as roles_services
from bookplate.roles.errors import LastAdministrator
from bookplate.users.model import User
from tests.functional.conftest import Api
from tests.functional.test_roles_api import admin_body
from tests.functional.test_users_api import create


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
