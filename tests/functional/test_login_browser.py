"""The sign-in page in a real browser: Playwright driving Debian's chromium (no download),
against the app served by uvicorn on 127.0.0.1. Outbound name look-ups are blocked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookplate.bootstrap import Container
from bookplate.config import Settings
from bookplate.users.model import User, UserInput
from tests.functional.live import CHROMIUM, HERMETIC, NO_CHROMIUM, live_app

PASSWORD = "correct-horse-battery"

pytestmark = NO_CHROMIUM


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = Path(tmp_path_factory.mktemp("browser")) / "bookplate.db"
    settings = Settings(database_url=f"sqlite:///{db}", cache_seconds=0, redis_url=None,
                        session_cookie_secure=False)

    def prepare(container: Container) -> None:
        container.add_institution("MAIN", "Main University")
        container.users.create("MAIN", UserInput(User(
            "jdoe", first_name="Jane", last_name="Doe", user_group="UNDERGRAD"), PASSWORD), "t")

    with live_app(settings, prepare) as (base, _):
        yield base


def test_sign_in_and_out_in_chromium(live_server: str) -> None:
    # Playwright's sync API runs an event loop in this thread while it is open: keep it inside
    # this test (pytest-playwright's session-wide fixtures would leave it running and break
    # later asyncio.run() calls, e.g. the SIS worker's).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=HERMETIC)
        try:
            _sign_in_and_out(browser.new_page(), live_server)
        finally:
            browser.close()


def _sign_in_and_out(page: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/auth/login?next=https://evil.example/")
    page.fill("#username", "jdoe")
    page.fill("#password", "wrong-password")
    page.click("#sign-in")
    expect(page.locator("#error")).to_have_text("Authentication failed")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("#welcome")).to_have_text("Jane Doe")  # the patron's own page
    assert page.url == f"{live_server}/me"  # the foreign next= was not followed: home
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["bp_session"]["httpOnly"] is True
    assert cookies["bp_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("bp_session") == -1
    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
