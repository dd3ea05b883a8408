"""Live refresh across deployments: two ``bookplate serve`` processes on loopback (SQLite
each). Home A pushes a changed user to host B's linked account; B down → the push waits with
its error in A's database and is delivered once B is back; the push endpoint refuses bad
bodies and older sequence numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import ContactInfo, Email, User, UserInput
from tests.functional.live import Deployment
from tests.integration.auth.peers import free_port, wait_until

Side = Deployment  # the two-process set-up of tests/functional/live.py


def _side(tmp: Path, name: str, institution: str, seed: bool,
          database: str | None = None) -> Side:
    """A migrated database (a SQLite file unless ``database`` is given) with the institution,
    a read-write key, and with ``seed`` the user walker."""
    database = database or f"sqlite:///{tmp / name}.db"
    c = build_container(Settings(database_url=database, redis_url=None), migrate=True)
    try:
        c.add_institution(institution, institution)
        _, key = c.keys.create(institution, "rw", parse_areas(["users:rw", "conf:rw"]), 1000)
        if seed:
            c.users.create(institution, UserInput(User(
                primary_id="walker", first_name="Jo", last_name="Walker",
                user_group="UNDERGRAD", contact_info=ContactInfo(
                    emails=[Email("jo@a.edu", preferred=True, email_types=["school"])]),
            )), "seed")
    finally:
        c.close()
    return Side(database, free_port(), key, tmp / f"{name}.log")


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """A (home, user walker) and B (host) partners of each other; B has linked walker."""
    a = _side(tmp_path, "a", "A", seed=True)
    b = _side(tmp_path, "b", "B", seed=False)
    yield from started_and_linked(a, b)


def started_and_linked(a: Side, b: Side) -> Iterator[tuple[Side, Side]]:
    """Both served, partners of each other, B holding its copy of A's walker; stopped after."""
    try:
        a.start()
        b.start()
        with httpx.Client(timeout=30) as http:
            r = http.put(f"{b.url}/bookplate/v1/network/partners/A", headers=_h(b.key),
                         json={"base_url": a.url, "api_key": a.key, "user_group": "GRAD"})
            assert r.status_code == 200, r.text
            r = http.put(f"{a.url}/bookplate/v1/network/partners/B", headers=_h(a.key),
                         json={"base_url": b.url, "api_key": b.key, "timeout_seconds": 1,
                               "retries": 0})
            assert r.status_code == 200, r.text
            r = http.post(f"{b.url}/almaws/v1/users?source_institution_code=A"
                          "&source_user_id=walker", headers=_h(b.key))
            assert r.status_code == 200, r.text
        yield a, b
    finally:
        b.stop()
        a.stop()


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {key}", "Accept": "application/json"}


def _rename(http: httpx.Client, a: Side, last_name: str) -> None:
    home = http.get(f"{a.url}/almaws/v1/users/walker", headers=_h(a.key)).json()
    home["last_name"] = last_name
    r = http.put(f"{a.url}/almaws/v1/users/walker", json=home, headers=_h(a.key))
    assert r.status_code == 200, r.text


def _copy_name(http: httpx.Client, b: Side) -> str:
    return str(http.get(f"{b.url}/almaws/v1/users/walker", headers=_h(b.key)).json()
               ["last_name"])


def _waiting(a: Side) -> list[object]:
    c = build_container(Settings(database_url=a.database, redis_url=None))
    try:
        return list(c.network.waiting_pushes())
    finally:
        c.close()


def test_a_change_at_home_reaches_the_copy_on_the_other_deployment(
    linked: tuple[Side, Side],
) -> None:
    a, b = linked
    with httpx.Client(timeout=30) as http:
        _rename(http, a, "Walker-Ng")
        wait_until(lambda: _copy_name(http, b) == "Walker-Ng", "the push reached B", 60)
        wait_until(lambda: _waiting(a) == [], "A's push dropped once delivered", 30)
        history = http.get(f"{b.url}/bookplate/v1/network/history/walker",
                           headers=_h(b.key)).json()
        pushes = [h for h in history["history"] if h["action"] == "network.refresh"
                  and h["detail"].get("trigger") == "push"]
        assert pushes and pushes[-1]["detail"]["changed"] is True
        # A's outbox is empty now; the next change's push still has a newer sequence.
        _rename(http, a, "Walker-Park")
        wait_until(lambda: _copy_name(http, b) == "Walker-Park", "the second push reached B",
                   60)
        wait_until(lambda: _waiting(a) == [], "A's second push dropped once delivered", 30)


def test_the_host_down_the_push_waits_then_arrives(linked: tuple[Side, Side]) -> None:
    a, b = linked
    with httpx.Client(timeout=30) as http:
        b.stop()
        _rename(http, a, "Walker-Down")

        def failed_once() -> bool:
            waiting = _waiting(a)
            return len(waiting) == 1 and bool(getattr(waiting[0], "last_error", None))

        wait_until(failed_once, "A's push waits with its error", 60)
        entry = _waiting(a)[0]
        assert "Partner institution B is unavailable" in str(getattr(entry, "last_error", ""))
        assert b.key not in str(getattr(entry, "last_error", ""))
        b.start()
        wait_until(lambda: _copy_name(http, b) == "Walker-Down", "the push after B is back",
                   120)
        wait_until(lambda: _waiting(a) == [], "A's push dropped once delivered", 30)


_GROUP = {"user_group": {"value": "UNDERGRAD"}, "status": {"value": "ACTIVE"}}


def _push(http: httpx.Client, b: Side, key: str | None = None, **body: object) -> httpx.Response:
    payload: dict[str, object] = {"source_institution_code": "A", "source_pk": 1,
                                  "source_user_id": "walker", "sequence": 10**6,
                                  "user": {"primary_id": "walker", "first_name": "Jo",
                                           "last_name": "Pushed",
                                           **_GROUP}}
    payload.update(body)
    return http.post(f"{b.url}/bookplate/v1/network/pushes", json=payload,
                     headers=_h(key or b.key))


def test_bad_pushes_are_refused_and_an_older_one_changes_nothing(
    linked: tuple[Side, Side],
) -> None:
    _a, b = linked
    with httpx.Client(timeout=30) as http:
        url = f"{b.url}/bookplate/v1/network/pushes"
        r = http.post(url, content=b"{not json", headers={**_h(b.key),
                                                          "Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert _push(http, b, key="bp_wrong").status_code in (401, 403)
        assert b.key not in _push(http, b, key="bp_wrong").text
        assert _push(http, b, source_pk="one").status_code == 400
        assert _push(http, b, source_institution_code="A'; DROP TABLE users;--").status_code \
            == 400
        assert _push(http, b, source_user_id="x" * 10_000).status_code == 400
        assert _push(http, b, source_user_id="wal\x00ker").status_code == 400
        assert _push(http, b, user={"primary_id": "walker", "last_name": "x" * 100_000,
                                    **_GROUP}).status_code == 400
        assert _push(http, b, source_institution_code="Z").status_code == 400
        assert _push(http, b, user=None).status_code == 400
        r = _push(http, b, source_user_id="nobody")
        assert r.status_code == 400 and "4019990" in r.text
        assert _copy_name(http, b) == "Walker"  # nothing above changed the copy
        # A real sequence, then an older one: the older never overwrites the newer.
        r = _push(http, b, sequence=500)
        assert r.status_code == 200 and r.json() == {"outcome": "applied"}, r.text
        assert _copy_name(http, b) == "Pushed"
        r = _push(http, b, sequence=499, user={"primary_id": "walker", "last_name": "Old",
                                               **_GROUP})
        assert r.json() == {"outcome": "stale"}
        assert _copy_name(http, b) == "Pushed"
        r = _push(http, b, sequence=500)  # the same push again: nothing applied twice
        assert r.json() == {"outcome": "stale"}
