"""Self-registration end to end in Debian's chromium (Playwright) against uvicorn, with a real
SMTP sink: register → mail → confirm link → a user manager approves in the queue → the
patron signs in at /me. With JavaScript (axe-core: zero WCAG 2.1 A/AA violations on every
page of the flow) and without it; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from bookplate.bootstrap import Container
from bookplate.config import Settings
from tests.functional.live import BROWSER_MARKS, Browser, axe_clean, browser_on, live_app
from tests.functional.registration_site import (
    USER_ID,
    Sink,
    prepare,
    registration_settings,
    smtp_sink,
)
from tests.functional.staff_pages import seed

pytestmark = BROWSER_MARKS
CHOSEN = "Plum-Orchard-Kettle-42"


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[str, Sink, Any]]:
    with smtp_sink() as (sink, port):
        settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                            session_cookie_secure=False,
                            **registration_settings(port))  # type: ignore[arg-type]  # kwargs
        def prepared(container: Container) -> None:
            seed(container)
            prepare(container)

        with live_app(settings, prepared) as (base, container):
            container.registrations.public_url = base  # the links point at the live server
            yield base, sink, container


@pytest.fixture
def browser(live: tuple[str, Sink, Any]) -> Iterator[Browser]:
    with browser_on(live[0]) as b:
        yield b


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_register_confirm_approve_sign_in(browser: Browser, live: tuple[str, Sink, Any],
                                          javascript: bool) -> None:
    from playwright.sync_api import expect

    base, sink, container = live

    def check(name: str) -> None:
        if javascript:
            axe_clean(page, name)

    page = browser.page(javascript)
    page.goto(f"{base}/register")
    check("register-form")
    # A mistake first: the form comes back with the message beside the field.
    page.fill("#first_name", "Ada")
    page.fill("#last_name", "Lovelace")
    page.fill("#email", "not-an-address")
    page.fill("#password", CHOSEN)
    page.fill("#confirm", CHOSEN)
    page.click("#register")
    expect(page.locator("#error-email")).to_be_visible()
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#first_name")).to_have_value("Ada")
    check("register-errors")
    page.fill("#email", "ada@example.net")
    page.fill("#password", CHOSEN)
    page.fill("#confirm", CHOSEN)
    page.click("#register")
    expect(page.locator("#sent")).to_be_visible()
    check("register-sent")

    body = sink.last_body("ada@example.net")
    found = USER_ID.search(body)
    assert found is not None
    new_id = found.group(1)
    link = next(word for word in body.split() if "/register/confirm/" in word)
    assert link.startswith(base)
    page.goto(link)
    check("register-confirm")
    page.click("#confirm-email")
    expect(page.locator("#new-user-id")).to_have_text(new_id)
    check("register-confirmed")
    page.goto(link)  # used once: not again
    expect(page.locator("#refused")).to_be_visible()

    staff = browser.page(javascript)
    browser.sign_in(staff, "manager")
    staff.click("#registrations-link a")
    expect(staff.locator("#registrations")).to_contain_text("ada@example.net")
    if javascript:
        axe_clean(staff, "staff-registrations")
    staff.click(f"#open-{new_id}")
    expect(staff.locator("#reg-id")).to_have_text(new_id)
    if javascript:
        axe_clean(staff, "staff-registration")
    staff.fill("#merge-q", "jos")
    staff.click("#merge-find")
    expect(staff.locator("#merge-into-jdoe")).to_be_visible()  # the merge search works
    if javascript:
        axe_clean(staff, "staff-registration-merge")
    staff.select_option("#user_group", "COMMUNITY")
    expiry = (container.auth.now().date() + timedelta(days=365)).isoformat()
    staff.fill("#expiry_date", expiry)
    staff.click("#approve")
    expect(staff.locator("#done")).to_contain_text("Approved")
    expect(staff.locator("#empty")).to_be_visible()

    page.goto(f"{base}/auth/login")
    page.fill("#username", new_id)
    page.fill("#password", CHOSEN)
    page.click("#sign-in")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/me"
    expect(page.locator("#user-group")).to_have_text("Community borrower")
    check("registered-me")
    user = container.users.get("MAIN", new_id)
    assert (user.user_group, user.status, user.expiry_date.isoformat()) == (
        "COMMUNITY", "ACTIVE", expiry)
