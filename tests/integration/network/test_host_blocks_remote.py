"""Host → home blocks across two ``bookplate serve`` processes: host B's block on its copy
of A's walker reaches walker at A through the push channel (marked ``network:B``), is
replaced when B changes it and removed when B removes it. On SQLite B's serving process sends
the push; on PostgreSQL B's procrastinate worker (``bookplate network worker``). The push
endpoint refuses bad host-block bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.auth.peers import stop, wait_until
from tests.integration.network.test_pushes import Side, _h, _side, started_and_linked
from tests.integration.network.test_pushes_postgres import _network_worker
from tests.pg import PG_URL, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def linked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    with ExitStack() as stack:
        databases: list[str | None] = [None, None]
        if request.param == "postgresql":
            if not PG_URL:
                pytest.skip("BOOKPLATE_TEST_POSTGRES_URL is not set")
            databases = [stack.enter_context(postgres_schema("ha")),
                         stack.enter_context(postgres_schema("hb"))]
        a = _side(tmp_path, "a", "A", True, databases[0])
        b = _side(tmp_path, "b", "B", False, databases[1])
        for sides in started_and_linked(a, b):
            with httpx.Client(timeout=30) as http:
                r = http.put(f"{b.url}/bookplate/v1/network/partners/A", headers=_h(b.key),
                             json={"send_blocks": True})
                assert r.status_code == 200 and r.json()["send_blocks"] is True, r.text
            if request.param == "postgresql":
                worker = _network_worker(b)
                stack.callback(stop, worker)
            yield sides


def _set_copy_blocks(http: httpx.Client, b: Side, *notes: str) -> None:
    copy_ = http.get(f"{b.url}/almaws/v1/users/walker", headers=_h(b.key)).json()
    copy_["user_block"] = [
        {"block_type": {"value": "GENERAL"}, "block_description": {"value": "LOST_CARD"},
         "block_status": "ACTIVE", "block_note": note} for note in notes]
    r = http.put(f"{b.url}/almaws/v1/users/walker", json=copy_, headers=_h(b.key))
    assert r.status_code == 200, r.text


def _home_blocks(http: httpx.Client, a: Side) -> list[tuple[str, str]]:
    home = http.get(f"{a.url}/almaws/v1/users/walker", headers=_h(a.key)).json()
    return sorted((b.get("created_by", ""), b.get("block_note", ""))
                  for b in home.get("user_block", []))


def _lines(http: httpx.Client, a: Side) -> list[dict[str, Any]]:
    history = http.get(f"{a.url}/bookplate/v1/network/history/walker",
                       headers=_h(a.key)).json()["history"]
    return [h for h in history if h["action"] == "network.host_blocks"]


def test_a_hosts_block_reaches_the_home_on_the_other_deployment(
    linked: tuple[Side, Side],
) -> None:
    a, b = linked
    with httpx.Client(timeout=30) as http:
        _set_copy_blocks(http, b, "owes B")
        wait_until(lambda: _home_blocks(http, a) == [("network:B", "owes B")],
                   "B's block reached A", 120)
        assert _lines(http, a)[-1]["detail"]["trigger"] == "push"
        _set_copy_blocks(http, b, "owes B more")
        wait_until(lambda: _home_blocks(http, a) == [("network:B", "owes B more")],
                   "B's changed block replaced A's", 120)
        _set_copy_blocks(http, b)
        wait_until(lambda: _home_blocks(http, a) == [], "B's removed block gone at A", 120)
        assert len(_lines(http, a)) == 3
        # Nothing came back to B: its copy holds no block copied from A.
        copy_ = http.get(f"{b.url}/almaws/v1/users/walker", headers=_h(b.key)).json()
        assert copy_.get("user_block", []) == []


def _push(http: httpx.Client, a: Side, **body: object) -> httpx.Response:
    payload: dict[str, object] = {"source_institution_code": "B", "source_pk": 1,
                                  "source_user_id": "walker", "sequence": 10**6,
                                  "host_blocks": True, "deleted": True}
    payload.update(body)
    return http.post(f"{a.url}/bookplate/v1/network/pushes", json=payload, headers=_h(a.key))


def test_bad_host_block_pushes_are_refused(linked: tuple[Side, Side]) -> None:
    a, _b = linked
    with httpx.Client(timeout=30) as http:
        assert _push(http, a, host_blocks="yes").status_code == 400
        assert _push(http, a, host_blocks=1).status_code == 400
        assert _push(http, a, source_institution_code="Z").status_code == 400
        r = _push(http, a, source_user_id="nobody")
        assert r.status_code == 400 and "4019990" in r.text
        r = _push(http, a, deleted=False, user={"primary_id": "walker",
                                                 "user_block": "not a list"})
        assert r.status_code == 400, r.text
        r = _push(http, a, deleted=False, user={
            "primary_id": "walker", "user_group": {"value": "GRAD"},
            "user_block": [{"block_type": {"value": "NO_SUCH"}, "block_status": "ACTIVE"}]})
        assert r.status_code == 200 and r.json() == {"outcome": "refused"}, r.text
        assert _home_blocks(http, a) == []
        assert _push(http, a, sequence=10**6).json() == {"outcome": "stale"}
