"""The sign-in profiles pages in chromium (Playwright), on SQLite and PostgreSQL: axe-core
finds no WCAG 2.1 A/AA violation on the list, the new-profile form, a profile with its test
report and the error page; an LDAP profile is added, tested against a dead port and disabled
with JavaScript off; a user manager gets the 403 page."""

from __future__ import annotations

import json
import socket

from tests.functional.live import BROWSER_MARKS, Browser, Live, axe_clean, browser, live, server

pytestmark = BROWSER_MARKS

__all__ = ["browser", "live", "pytestmark", "server"]


def test_signin_pages_are_accessible_and_work_without_javascript(
    browser: Browser, server: Live
) -> None:
    from playwright.sync_api import expect

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plain = browser.page(javascript=False)
    browser.sign_in(plain, "gsa")
    plain.goto(f"{server.url}/staff/admin/sign-in")
    expect(plain.locator("#no-profiles")).to_be_visible()
    plain.click("#add-ldap")
    plain.fill("#code", "dir")
    plain.fill("#label", "University account")
    plain.fill("#s_servers", json.dumps([{"host": "127.0.0.1", "port": port, "timeout_s": 1}]))
    plain.fill("#s_base_dn", "ou=people,dc=example,dc=org")
    plain.fill("#s_bind_dn", "cn=reader,dc=example,dc=org")
    plain.fill("#s_bind_password", "reader-secret-1")
    plain.click("#save-profile")
    expect(plain.locator("#notice")).to_have_text("dir was saved.")
    expect(plain.locator("#bind_password-set")).to_have_text("set")
    assert "reader-secret-1" not in plain.content()
    plain.click("#test-connection")
    expect(plain.locator("#test-report")).to_contain_text("cannot connect")
    plain.click("#toggle-enabled")
    expect(plain.locator("#state")).to_have_text("disabled")
    row = server.container.external.profiles.get("MAIN", "ldap", "dir")
    assert row is not None and row.config["enabled"] is False
    assert row.config["bind_password"] == "reader-secret-1"
    plain.fill("#s_servers", "[not json")
    plain.click("#save-profile")
    expect(plain.locator("#form-error")).to_contain_text("not valid JSON")
    # axe-core (needs JavaScript) on every page, in a second browser page
    page = browser.page()
    browser.sign_in(page, "gsa")
    page.goto(f"{server.url}/staff/admin/sign-in")
    expect(page.locator("#profiles")).to_contain_text("dir")
    axe_clean(page, "admin-signin-profiles")
    page.goto(f"{server.url}/staff/admin/sign-in/new?method=oidc")
    axe_clean(page, "admin-signin-new")
    page.goto(f"{server.url}/staff/admin/sign-in/ldap/dir")
    page.click("#test-connection")
    expect(page.locator("#test-report")).to_contain_text("cannot connect")
    axe_clean(page, "admin-signin-profile")
    page.fill("#s_servers", "[not json")
    page.click("#save-profile")
    expect(page.locator("#form-error")).to_contain_text("not valid JSON")
    axe_clean(page, "admin-signin-error")

    manager = browser.page()
    browser.sign_in(manager, "manager")
    manager.goto(f"{server.url}/staff/admin/sign-in")
    expect(manager.locator("#refused")).to_be_visible()
