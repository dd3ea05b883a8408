"""The API keys, staff login report and configuration history pages in chromium
(Playwright): axe-core finds no WCAG 2.1 A/AA violation, and a key is created and revoked and
the reports filtered with JavaScript off; a user manager gets the 403 page."""

from __future__ import annotations

import re

from tests.functional.live import BROWSER_MARKS, Browser, Live, axe_clean, browser, live, server

pytestmark = BROWSER_MARKS

__all__ = ["browser", "live", "pytestmark", "server"]


def test_keys_and_reports_are_accessible_and_work_without_javascript(
    browser: Browser, server: Live
) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "gsa")
    page.goto(f"{server.url}/staff/")
    page.click("#admin-keys")
    expect(page.locator("h1")).to_have_text("API keys")
    axe_clean(page, "admin-keys")
    page.fill("#new-name", "Discovery")
    page.click("#create-key")
    expect(page.locator("#secret")).to_have_value(re.compile(r"^bp_"))
    axe_clean(page, "admin-key-created")
    page.goto(f"{server.url}/staff/admin/logins")
    expect(page.locator("#logins")).to_contain_text("gsa")
    axe_clean(page, "admin-logins")
    page.goto(f"{server.url}/staff/admin/history")
    expect(page.locator("#history")).to_contain_text("keys.create")
    axe_clean(page, "admin-history")

    plain = browser.page(javascript=False)
    browser.sign_in(plain, "gsa")
    plain.goto(f"{server.url}/staff/admin/keys")
    plain.fill("#new-name", "Batch loader")
    plain.select_option("#new-area-conf", "rw")
    plain.click("#create-key")
    expect(plain.locator("#notice")).to_contain_text("was created")
    key = next(k for k in server.container.keys.list("MAIN") if k.name == "Batch loader")
    plain.click(f"#revoke-{key.key_id}")
    plain.check("#confirm")
    plain.click("#revoke")
    expect(plain.locator("#notice")).to_have_text(f"The key {key.key_id} was revoked.")
    plain.goto(f"{server.url}/staff/admin/history")
    plain.select_option("#area", "keys")
    plain.click("#apply")
    expect(plain.locator("#history")).to_contain_text("keys.revoke")

    manager = browser.page()
    browser.sign_in(manager, "manager")
    manager.goto(f"{server.url}/staff/admin/keys")
    expect(manager.locator("#refused")).to_be_visible()
    axe_clean(manager, "")
