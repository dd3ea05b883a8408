"""The staff pages in a real browser: Playwright driving Debian's chromium against the app
served by uvicorn on 127.0.0.1, per role; axe-core (from npm, tests/functional/axe) checks
every page for WCAG 2.1 A/AA violations; the core flows also run with JavaScript off.

Set BOOKPLATE_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bookplate.config import Settings
from tests.functional.live import BROWSER_MARKS, Browser, axe_clean, browser, live_app
from tests.functional.staff_pages import seed

__all__ = ["browser"]
pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = Path(tmp_path_factory.mktemp("staff-browser")) / "bookplate.db"
    settings = Settings(database_url=f"sqlite:///{db}", cache_seconds=0, redis_url=None,
                        session_cookie_secure=False, staff_date_format="%d %b %Y")
    with live_app(settings, seed) as (base, _):
        yield base


def test_user_manager_end_to_end(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, "manager")
    assert page.url == f"{browser.base}/staff/"
    expect(page.locator("#menus a")).to_have_text(["Find and manage users", "Roles"])
    axe_clean(page, "staff-start")
    page.keyboard.press("/")  # the search shortcut
    expect(page.locator("#quick-q")).to_be_focused()
    page.keyboard.type("jos")
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/users?q=jos")
    expect(page.locator("#result-count")).to_have_text("1 user found")
    axe_clean(page, "find-users")
    page.click("#results a")
    expect(page.locator("#user-name")).to_have_text("José Doe-Müller")
    axe_clean(page, "user-general")
    page.fill("#f-middle_name", "Maria")
    page.focus("#f-middle_name")
    page.keyboard.press("Control+s")  # the save shortcut
    expect(page.locator("#done")).to_have_text("Saved.")
    page.click("#tab-contact")
    expect(page.locator("#tab-title")).to_have_text("Contact")
    axe_clean(page, "user-contact")
    page.fill("#email_address", "jm@work.example")
    page.click("#add-email")
    expect(page.locator("#emails-table")).to_contain_text("jm@work.example")
    for tab in ("identifiers", "notes", "blocks", "statistics", "proxy", "roles", "history"):
        page.click(f"#tab-{tab}")
        expect(page.locator("#tab-title")).to_have_text(
            {"proxy": "Proxy for"}.get(tab, tab.capitalize()))
        axe_clean(page, f"user-{tab}" if tab in ("roles", "history") else "")
    expect(page.locator("#history-table")).to_contain_text("staff:manager")
    page.click("#tab-roles")
    expect(page.locator("#refused-roles")).to_contain_text("General System Administrator")
    page.goto(f"{browser.base}/staff/users/new")
    axe_clean(page, "new-user")
    page.goto(f"{browser.base}/staff/users/jdoe/delete")
    axe_clean(page)
    page.goto(f"{browser.base}/staff/roles")
    axe_clean(page)
    # Forbidden for a User Manager: a General System Administrator's record.
    page.goto(f"{browser.base}/staff/users/gsa/delete")
    expect(page.locator("#refused-title")).to_have_text("Not allowed")
    axe_clean(page)


def test_desk_operator_scoped_to_one_library(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "desk")
    expect(page.locator("#menus a")).to_have_text(["Find and manage users"])
    axe_clean(page)
    page.goto(f"{browser.base}/staff/users/jdoe")
    expect(page.locator("#tab-identifiers")).to_have_count(0)
    expect(page.locator("#delete-reason")).to_contain_text("users.delete in LIB_A")
    page.click("#tab-notes")
    page.fill("#note_text", "Card renewed at desk A")
    page.click("#add-note")
    expect(page.locator("#notes-table")).to_contain_text("Card renewed at desk A")
    axe_clean(page)
    response = page.goto(f"{browser.base}/staff/roles")
    assert response.status == 403
    axe_clean(page, "forbidden")
    page.goto(f"{browser.base}/staff/users/manager")
    expect(page.locator("#edit-reason")).to_contain_text("users.edit_staff")
    expect(page.locator("#general-form")).to_have_count(0)


def test_user_administrator(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "useradmin")
    expect(page.locator("#menus a")).to_have_text(
        ["Find and manage users", "Roles", "Code tables", "SIS jobs"])
    page.goto(f"{browser.base}/staff/users/manager?tab=roles")
    expect(page.locator("#role-add")).to_be_visible()
    page.select_option("#role_type", "21")
    page.click("#add-role")
    expect(page.locator("#done")).to_have_text("Added.")
    axe_clean(page)


def test_patron_never_reaches_the_staff_pages(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "patron")
    assert page.url == f"{browser.base}/me"
    response = page.goto(f"{browser.base}/staff/")
    assert response.status == 403
    expect(page.locator("#refused")).to_contain_text("for library staff")
    axe_clean(page)


def test_core_flows_without_javascript(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page(javascript=False)
    browser.sign_in(page, "manager")
    page.fill("#quick-q", "muller")
    page.click(".quick-search button")
    expect(page.locator("#result-count")).to_have_text("1 user found")
    page.click("#results a")  # open
    expect(page.locator("#user-name")).to_contain_text("Doe-Müller")
    page.click("#tab-contact")  # edit contact info
    page.fill("#phone_number", "+47 22 00 00 00")
    page.click("#add-phone")
    expect(page.locator("#phones-table")).to_contain_text("+47 22 00 00 00")
    page.click("#phones-remove-0")
    expect(page.locator("#phones-table")).not_to_contain_text("+47 22 00 00 00")
    page.click("#tab-notes")  # add a note
    page.fill("#note_text", "Prefers e-mail")
    page.click("#add-note")
    expect(page.locator("#notes-table")).to_contain_text("Prefers e-mail")
    page.fill("#q" if page.locator("#q").count() else "#quick-q", "39001-0042")
    page.click(".quick-search button")  # a barcode scan opens the user
    expect(page.locator("#primary-id")).to_have_text("jdoe")


def test_edit_in_place_and_proxy_without_javascript(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page(javascript=False)
    browser.sign_in(page, "manager")
    page.goto(f"{browser.base}/staff/users/jdoe?tab=contact")
    page.click("#emails-edit-0")
    expect(page.locator("#e-email_address")).to_have_value("jose@example.org")
    page.fill("#e-email_address", "jose.doe@example.org")
    page.click("#save-email")
    expect(page.locator("#emails-table")).to_contain_text("jose.doe@example.org")
    page.click("#tab-proxy")
    page.fill("#proxy_user", "BC-patron")
    page.click("#add-proxy")
    expect(page.locator("#proxy-table")).to_contain_text("Patron Person")


def test_edit_forms_pass_axe(browser: Browser) -> None:
    page = browser.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, "manager")
    page.goto(f"{browser.base}/staff/users/jdoe?tab=contact&edit=emails-0")
    axe_clean(page, "user-contact-edit")
    page.goto(f"{browser.base}/staff/users/jdoe?tab=proxy")
    axe_clean(page, "user-proxy")
    page.fill("#proxy_user", "nobody")
    page.click("#add-proxy")
    axe_clean(page)  # the error beside the field


def test_patron_self_service(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, "patron")
    assert page.url == f"{browser.base}/me"
    expect(page.locator("#welcome")).to_have_text("Patron Person")
    axe_clean(page, "patron-me")
    page.fill("#phones-add-phone_number", "+47 22 00 00 00")
    page.click("#phones-add-save")
    expect(page.locator("#phones-table")).to_contain_text("+47 22 00 00 00")
    page.click("#phones-edit-0")
    expect(page.locator("#phones-edit-phone_number")).to_have_value("+47 22 00 00 00")
    axe_clean(page)
    page.goto(f"{browser.base}/me/data")
    expect(page.locator("#data-table")).to_contain_text("+47 22 00 00 00")
    axe_clean(page, "patron-data")
    page.goto(f"{browser.base}/me/password")
    axe_clean(page, "patron-password")
    page.fill("#current_password", "wrong-password")
    page.fill("#new_password", "another-long-passphrase")
    page.fill("#confirm", "another-long-passphrase")
    page.click("#change-password")
    expect(page.locator("#error")).to_contain_text("current password is not right")
    axe_clean(page)


def test_patron_self_service_without_javascript(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page(javascript=False)
    browser.sign_in(page, "patron")
    page.fill("#emails-add-email_address", "patron@home.example")
    page.click("#emails-add-save")
    expect(page.locator("#done")).to_have_text("Added.")
    expect(page.locator("#emails-table")).to_contain_text("patron@home.example")
    page.click("#emails-remove-0")
    expect(page.locator("#emails-table")).not_to_contain_text("patron@home.example")
    page.click("#sign-out-all")
    expect(page.locator("#sign-in")).to_be_visible()
    page.goto(f"{browser.base}/me")
    expect(page.locator("#sign-in")).to_be_visible()  # signed out everywhere
