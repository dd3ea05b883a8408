"""Two ``bookplate serve`` processes on loopback, each with its own database: host B copies,
finds and refreshes a user of institution A, which lives on the other deployment and is
reached over HTTP with A's API key from B's partner registry; a partner that is down gives a
clear error after the configured timeout and retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.functional.live import Deployment, two_deployments
from tests.integration.auth.peers import free_port


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Deployment, Deployment]]:
    with two_deployments(tmp_path) as deployments:
        yield deployments


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {key}", "Accept": "application/json"}


def _code(response: httpx.Response) -> str:
    return str(response.json()["errorList"]["error"][0]["errorCode"])


def test_link_find_and_refresh_across_two_deployments(
    two: tuple[Deployment, Deployment],
) -> None:
    a, b = two
    with httpx.Client(timeout=30) as http:
        r = http.put(f"{b.url}/bookplate/v1/network/partners/A", headers=_h(b.key),
                     json={"base_url": a.url, "api_key": a.key, "user_group": "GRAD",
                           "timeout_seconds": 5, "retries": 1})
        assert r.status_code == 200, r.text
        assert a.key not in r.text
        r = http.post(f"{b.url}/almaws/v1/users?source_institution_code=A"
                      "&source_user_id=walker", headers=_h(b.key))
        assert r.status_code == 200, r.text
        copy = r.json()
        assert copy["source_institution_code"] == "A" and copy["linking_id"]
        assert copy["contact_info"]["email"][0]["email_address"] == "jo@a.edu"
        assert copy["user_group"]["value"] == "GRAD"
        # A gave its user the same linking ID.
        home = http.get(f"{a.url}/almaws/v1/users/walker", headers=_h(a.key)).json()
        assert home["linking_id"] == copy["linking_id"]
        r = http.get(f"{b.url}/almaws/v1/users?source_institution_code=A"
                     "&source_user_id=walker", headers=_h(b.key))
        assert r.json()["total_record_count"] == 1
        r = http.post(f"{b.url}/almaws/v1/users?source_institution_code=A"
                      "&source_user_id=walker", headers=_h(b.key))
        assert _code(r) == "60227"
        r = http.post(f"{b.url}/almaws/v1/users?source_institution_code=A"
                      "&source_user_id=nobody", headers=_h(b.key))
        assert _code(r) == "60226"
        # A changes the user; B's op=refresh fetches it over HTTP.
        home["last_name"] = "Walker-Ng"
        assert http.put(f"{a.url}/almaws/v1/users/walker", json=home,
                        headers=_h(a.key)).status_code == 200
        r = http.post(f"{b.url}/almaws/v1/users/walker?op=refresh", headers=_h(b.key))
        assert r.status_code == 204, r.text
        r = http.get(f"{b.url}/almaws/v1/users/walker", headers=_h(b.key))
        assert r.json()["last_name"] == "Walker-Ng"
        # A wrong key in the registry: a clear error, not a copy.
        http.put(f"{b.url}/bookplate/v1/network/partners/A", headers=_h(b.key),
                 json={"api_key": "bp_wrong_key"})
        r = http.post(f"{b.url}/almaws/v1/users/walker?op=refresh", headers=_h(b.key))
        assert _code(r) == "60230"
        assert "refused the partner API key" in r.text
        # A goes down: refresh fails after the timeout and retries, naming the partner.
        http.put(f"{b.url}/bookplate/v1/network/partners/A", headers=_h(b.key),
                 json={"api_key": a.key, "timeout_seconds": 1, "retries": 1})
        a.stop()
        r = http.post(f"{b.url}/almaws/v1/users/walker?op=refresh", headers=_h(b.key))
        assert r.status_code == 400
        assert _code(r) == "60230"
        message = r.json()["errorList"]["error"][0]["errorMessage"]
        assert "Partner institution A is unavailable" in message and "2 attempts" in message
        assert a.key not in r.text


def test_a_partner_that_never_answers(two: tuple[Deployment, Deployment]) -> None:
    _a, b = two
    dead = free_port()  # nothing listens there
    with httpx.Client(timeout=30) as http:
        http.put(f"{b.url}/bookplate/v1/network/partners/Z", headers=_h(b.key),
                 json={"base_url": f"http://127.0.0.1:{dead}", "api_key": "k",
                       "timeout_seconds": 0.5, "retries": 2})
        r = http.post(f"{b.url}/almaws/v1/users?source_institution_code=Z"
                      "&source_user_id=walker", headers=_h(b.key))
        assert r.status_code == 400
        assert _code(r) == "60228"
        assert "Partner institution Z is unavailable: cannot connect" in r.text
        assert "3 attempts" in r.text
        r = http.get(f"{b.url}/almaws/v1/users?source_institution_code=Z", headers=_h(b.key))
        assert r.json()["total_record_count"] == 0
