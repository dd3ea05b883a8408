"""The libraries and circulation desks pages in chromium (Playwright), on SQLite and
PostgreSQL: axe-core finds no WCAG 2.1 A/AA violation on the list and a library's page, and a
library is added, a desk added and renamed, and the library disabled with JavaScript off."""

from __future__ import annotations

from tests.functional.live import BROWSER_MARKS, Browser, Live, axe_clean, browser, live, server

pytestmark = BROWSER_MARKS

__all__ = ["browser", "live", "pytestmark", "server"]


def test_libraries_pages_are_accessible_and_work_without_javascript(
    browser: Browser, server: Live
) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "useradmin")
    page.goto(f"{server.url}/staff/admin/codes")
    page.click("#libraries-link")
    expect(page.locator("#libraries")).to_contain_text("Library A")
    axe_clean(page, "admin-libraries")
    page.click("#library-LIB_A >> text=LIB_A")
    expect(page.locator("#desk-DESK_A")).to_be_visible()
    axe_clean(page, "admin-library")

    plain = browser.page(javascript=False)
    browser.sign_in(plain, "useradmin")
    plain.goto(f"{server.url}/staff/admin/libraries")
    plain.fill("#new-code", "LAW")
    plain.fill("#new-name", "Law Library")
    plain.fill("#new-description", "South campus")
    plain.click("#add")
    expect(plain.locator("#notice")).to_have_text("LAW was saved.")
    plain.fill("#new-desk-code", "LAW_DESK")
    plain.fill("#new-desk-name", "Loans")
    plain.click("#add-desk-button")
    expect(plain.locator("#notice")).to_have_text("LAW/LAW_DESK was saved.")
    plain.fill("#desk-LAW_DESK input[name=name]", "Loans and returns")
    plain.click("#desk-LAW_DESK button")
    plain.uncheck("#lib-enabled")
    plain.click("#save-library")
    expect(plain.locator("#edit-library")).to_be_visible()
    law = server.container.roles.config("MAIN").libraries["LAW"]
    assert not law.enabled and law.description == "South campus"
    assert [(d.code, d.name) for d in law.all_desks()] == [("LAW_DESK", "Loans and returns")]
    # the error page of a bad form is accessible too
    page.goto(f"{server.url}/staff/admin/libraries")
    page.fill("#new-code", "bad code")
    page.fill("#new-name", "X")
    page.click("#add")
    expect(page.locator("#form-error")).to_contain_text("without spaces")
    axe_clean(page, "admin-libraries-error")
