"""Security headers on every kind of answer (issue 14 item 12): the Alma API in JSON and XML,
``/bookplate/v1``, the sign-in pages, redirects, the OpenAPI pages, and errors, a 500
included; the password-reset page (its URL holds the token) sends no Referer anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from tests.functional.conftest import Api
from tests.functional.test_auth import (  # noqa: F401  (fixtures)
    Env,
    _reset_link,
    env,
    smtp,
)

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _always(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert response.headers["referrer-policy"] == "no-referrer", response.url
    assert response.headers["x-frame-options"] == "DENY", response.url


def _api_answer(response: Any) -> None:
    _always(response)
    assert response.headers["content-security-policy"] == API_CSP, response.url


def test_alma_api_answers(api: Api) -> None:
    created = api.client.post("/almaws/v1/users", headers=api.h(), json={
        "primary_id": "hdr1", "first_name": "H", "last_name": "Eader",
        "record_type": {"value": "PUBLIC"},
        "user_group": {"value": "UNDERGRAD"}, "account_type": {"value": "INTERNAL"},
        "status": {"value": "ACTIVE"}})
    assert created.status_code == 200, created.text[:300]
    _api_answer(created)
    _api_answer(api.client.get("/almaws/v1/users/hdr1", headers=api.h()))
    xml = api.client.get("/almaws/v1/users/hdr1", headers=api.h(json=False))
    assert xml.headers["content-type"].startswith("application/xml")
    _api_answer(xml)
    # errors: unknown user (400), no key (401), bad key (403), no such route (404), bad JSON
    assert api.client.get("/almaws/v1/users/nobody", headers=api.h()).status_code == 400
    _api_answer(api.client.get("/almaws/v1/users/nobody", headers=api.h()))
    _api_answer(api.client.get("/almaws/v1/users/hdr1"))
    _api_answer(api.client.get("/almaws/v1/users/hdr1",
                               headers={"Authorization": "apikey wrong"}))
    missing = api.client.get("/almaws/v1/no-such-thing", headers=api.h())
    assert missing.status_code == 404
    _api_answer(missing)
    bad = api.client.put("/almaws/v1/users/hdr1", headers={**api.h(),
                         "Content-Type": "application/json"}, content=b"{not json")
    assert bad.status_code == 400
    _api_answer(bad)


def test_bookplate_v1_answers(api: Api) -> None:
    libraries = api.client.get("/bookplate/v1/libraries", headers=api.h())
    _api_answer(libraries)
    _api_answer(api.client.get("/bookplate/v1/libraries"))  # refused without credentials
    _api_answer(api.client.get("/bookplate/v1/sis/profiles", headers=api.h()))


def test_server_error_answer(api: Api) -> None:
    app = create_app(api.container.settings, api.container)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/almaws/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        crashed = client.get("/almaws/v1/boom", headers={"Accept": "application/json"})
    assert crashed.status_code == 500
    assert crashed.json()["errorList"]["error"][0]["errorCode"] == "60101"
    _api_answer(crashed)


def test_pages_keep_their_own_policy(api: Api) -> None:
    login = api.client.get("/auth/login")
    assert login.status_code == 200
    _always(login)
    assert login.headers["content-security-policy"] == \
        "default-src 'self'; style-src 'unsafe-inline'"
    redirect = api.client.get("/auth/me", follow_redirects=False)
    assert redirect.status_code == 303
    _api_answer(redirect)
    assert api.client.get("/docs").status_code == 404  # off unless BOOKPLATE_API_DOCS=true
    settings = api.container.settings.model_copy(update={"api_docs": True})
    with TestClient(create_app(settings, api.container)) as with_docs:
        docs = with_docs.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    _always(docs)
    assert "content-security-policy" not in docs.headers  # the viewer loads its scripts
    _api_answer(api.client.get("/openapi.json"))
    _api_answer(api.client.get("/auth/MAIN/jwks.json"))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_reset_page_sends_no_referrer(env: Env, method: str) -> None:  # noqa: F811
    link = _reset_link(env)
    page = env.client.request(method, link, data={} if method == "POST" else None)
    assert page.status_code in (200, 403)
    assert page.headers["referrer-policy"] == "no-referrer"
    _always(page)
    assert "Cache-Control" in page.headers and page.headers["Cache-Control"] == "no-store"
