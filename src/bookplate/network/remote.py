"""Partners on another Bookplate deployment, reached over HTTP with the partner's API key.

The host asks the home deployment's ``GET /bookplate/v1/network/source-users/{id}`` (the same
``NetworkService.source_user`` a partner in the same deployment gets), with the partner's
key and, when set, its network search password in ``X-Bookplate-Network-Password``. Every
call has the partner's timeout; connection failures, timeouts and 5xx/429 answers are tried
again ``retries`` times with a short pause; what is left becomes one clear error naming the
partner (never the key).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import httpx2
import structlog

from bookplate.alma.json import dump_json, parse_json_object
from bookplate.alma.user import user_from_dict, user_to_dict
from bookplate.errors import BookplateError
from bookplate.network.base import PushBody, SourceRecord
from bookplate.network.errors import (
    NetworkNotFound,
    PartnerUnavailable,
    SourceInstitutionInvalid,
    SourceUserNotFound,
)
from bookplate.network.model import Partner

log = structlog.get_logger("bookplate.network.remote")

PASSWORD_HEADER = "X-Bookplate-Network-Password"  # noqa: S105 (a header name)
RETRY_PAUSE_SECONDS = 0.2


def _no_description(_table: str, _code: str) -> str | None:
    return None  # the host describes codes with its own tables


def _error_code(body: dict[str, Any]) -> tuple[str, str]:
    try:
        error = body["errorList"]["error"][0]
        return str(error.get("errorCode", "")), str(error.get("errorMessage", ""))
    except (KeyError, IndexError, TypeError, AttributeError):
        return "", ""


class HttpRemoteSources:
    """``RemoteSources`` over httpx2. One client for every partner and thread (httpx2's
    clients are thread-safe): its pool keeps the connections to each partner open between
    calls, so a call costs no new TCP (or TLS) handshake and no name look-up; each request
    carries its partner's timeout."""

    def __init__(self, pause_seconds: float = RETRY_PAUSE_SECONDS) -> None:
        self._pause = pause_seconds
        self._client: httpx2.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx2.Client:
        with self._lock:
            if self._client is None:
                # Idle connections are let go after 4 s, before a partner's own keep-alive
                # timeout (uvicorn's default is 5 s) would close them under a request.
                self._client = httpx2.Client(
                    follow_redirects=False,
                    limits=httpx2.Limits(max_keepalive_connections=20, keepalive_expiry=4),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        assert partner.base_url is not None
        url = (
            f"{partner.base_url}/bookplate/v1/network/source-users/{quote(user_id, safe='')}"
        )
        headers = {
            "Authorization": f"apikey {partner.api_key or ''}",
            "Accept": "application/json",
        }
        if partner.search_password:
            headers[PASSWORD_HEADER] = partner.search_password
        params = {"requester": partner.institution, "institution": partner.code}
        response = self._call(partner, "GET", url, headers, params=params)
        return self._answer(partner, user_id, response)

    def _call(self, partner: Partner, method: str, url: str, headers: dict[str, str],
              **request: Any) -> httpx2.Response:
        """One call with the partner's timeout, tried again ``retries`` times on connection
        failures, timeouts, 429 and 5xx (PartnerUnavailable when none answered)."""
        last = "no answer"
        for attempt in range(partner.retries + 1):
            if attempt:
                time.sleep(self._pause * attempt)
            try:
                response = self._http().request(method, url, headers=headers,
                                                timeout=partner.timeout_seconds, **request)
            except httpx2.TimeoutException:
                last = f"no answer within {partner.timeout_seconds:g} s"
                continue
            except httpx2.HTTPError as exc:
                last = f"cannot connect ({type(exc).__name__})"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = f"HTTP {response.status_code}"
                continue
            return response
        log.warning("network_partner_unavailable", partner=partner.code,
                    attempts=partner.retries + 1, reason=last)
        raise PartnerUnavailable(partner.code, f"{last} after {partner.retries + 1} attempts")

    def push(self, partner: Partner, body: PushBody) -> str:
        assert partner.base_url is not None
        payload = {
            "source_institution_code": body.home,
            "source_pk": body.source_pk,
            "source_user_id": body.link_id,
            "sequence": body.seq,
            "deleted": body.user is None,
            "share_blocks": body.share_blocks,
            "host_blocks": body.host_blocks,
            "user": None if body.user is None else user_to_dict(body.user, _no_description),
        }
        headers = {"Authorization": f"apikey {partner.api_key or ''}",
                   "Accept": "application/json", "Content-Type": "application/json"}
        response = self._call(partner, "POST", f"{partner.base_url}/bookplate/v1/network/pushes",
                              headers, content=dump_json(payload))
        try:
            answer = parse_json_object(response.content)
        except BookplateError:
            raise NetworkNotFound(
                f"({partner.code} at {partner.base_url} answered HTTP {response.status_code} "
                "without a Bookplate body)") from None
        if response.status_code == 200 and answer.get("outcome") in ("applied", "stale"):
            return str(answer["outcome"])
        if response.status_code == 200 and answer.get("outcome") == "refused":
            return "no_copy"  # host blocks the home's rules refused: sending again won't help
        code, message = _error_code(answer)
        if code == "4019990":
            return "no_copy"
        if response.status_code in (401, 403) or code == "UNAUTHORIZED":
            raise NetworkNotFound(f"({partner.code} refused the partner API key)")
        raise PartnerUnavailable(partner.code, f"HTTP {response.status_code} {code} {message}")

    @staticmethod
    def _answer(partner: Partner, user_id: str, response: httpx2.Response) -> SourceRecord:
        try:
            body = parse_json_object(response.content)
        except BookplateError:
            raise NetworkNotFound(
                f"({partner.code} at {partner.base_url} answered HTTP {response.status_code} "
                "without a Bookplate body)"
            ) from None
        if response.status_code == 200:
            try:
                user = user_from_dict(body["user"]).user
            except (KeyError, TypeError, BookplateError) as exc:
                raise NetworkNotFound(f"({partner.code} sent an unreadable user: {exc})") from None
            return SourceRecord(user, bool(body.get("share_blocks", True)))
        code, message = _error_code(body)
        if code in ("60226", "401861", "401890"):
            raise SourceUserNotFound(f"({user_id} in {partner.code})")
        if code in ("401651", "60224"):
            raise SourceInstitutionInvalid(f"({partner.code} answered: {message})")
        if response.status_code in (401, 403) or code == "UNAUTHORIZED":
            raise NetworkNotFound(f"({partner.code} refused the partner API key)")
        if response.status_code == 404:
            raise NetworkNotFound(f"({partner.base_url} is not a Bookplate network member)")
        raise PartnerUnavailable(partner.code, f"HTTP {response.status_code} {code} {message}")
