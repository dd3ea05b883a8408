"""The role-configuration pages in chromium (Playwright), on SQLite and PostgreSQL: profiles,
rules, the tester and restricted accounts for a system administrator with axe-core on every
page, the same flows with JavaScript off for a user administrator, and the 403 page for a
user manager (the administration pages' browser fixtures)."""

from __future__ import annotations

import pytest

from bookplate.roles.model import RestrictedSettings
from tests.functional.live import BROWSER_MARKS, Browser, Live, axe_clean, browser, live, server

pytestmark = BROWSER_MARKS

__all__ = ["browser", "live", "pytestmark", "server"]

BASE = "/staff/admin/roles"


def _config(server: Live) -> tuple[object, ...]:
    with server.container.uow_factory() as uow:
        return (uow.roles.profiles("MAIN"), uow.roles.rules("MAIN"),
                uow.roles.restricted("MAIN"))


def _profile_and_rule(page: object, base: str, code: str) -> None:
    """Creates profile ``code`` (a desk operator at LIB_A) and rule ``code``-rule giving it to
    STAFF users of job category Circulation, through the forms."""
    p = page
    p.goto(f"{base}{BASE}")  # type: ignore[attr-defined]
    p.click("#new-profile")  # type: ignore[attr-defined]
    p.fill("#code", code)  # type: ignore[attr-defined]
    p.fill("#name", f"Desk {code}")  # type: ignore[attr-defined]
    p.select_option("#role_type_0", "32")  # type: ignore[attr-defined]
    p.select_option("#scope_0", "LIB_A")  # type: ignore[attr-defined]
    p.fill("#parameters_0", "DESK_A")  # type: ignore[attr-defined]
    p.click("#save-profile")  # type: ignore[attr-defined]
    p.wait_for_url(f"**{BASE}/profiles/{code}?saved=1")  # type: ignore[attr-defined]
    p.goto(f"{base}{BASE}/rules/new")  # type: ignore[attr-defined]
    p.fill("#rule_id", f"{code}-rule")  # type: ignore[attr-defined]
    p.select_option("#profile", code)  # type: ignore[attr-defined]
    p.check("#cond-record_type >> text=STAFF")  # type: ignore[attr-defined]
    p.check("#cond-job_category >> text=Circulation staff")  # type: ignore[attr-defined]
    p.click("#save-rule")  # type: ignore[attr-defined]
    p.wait_for_url(f"**{BASE}/rules/{code}-rule?saved=1")  # type: ignore[attr-defined]


def test_profiles_rules_tester_and_restricted_for_a_system_administrator(
        browser: Browser, server: Live) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, "gsa")
    page.click("#menu-roles")
    page.click("#roles-admin")
    expect(page.locator("#profiles")).to_contain_text("PATRON")
    axe_clean(page, "admin-roles")
    page.click("#new-profile")
    axe_clean(page, "admin-role-profile-new")
    _profile_and_rule(page, server.url, "DESK")
    page.goto(f"{server.url}{BASE}/profiles/DESK")
    expect(page.locator("#parameters_0")).to_have_value("DESK_A")
    axe_clean(page, "admin-role-profile")
    page.goto(f"{server.url}{BASE}/rules/DESK-rule")
    expect(page.locator("#notice")).to_have_count(0)
    axe_clean(page, "admin-role-rule")
    # A bad form: a role that takes no desk given one.
    page.goto(f"{server.url}{BASE}/profiles/DESK")
    page.select_option("#role_type_1", "200")
    page.fill("#parameters_1", "DESK_A")
    page.click("#save-profile")
    expect(page.locator("#form-error")).to_contain_text("takes no parameters")
    axe_clean(page)
    # The tester, by attributes and by a stored user.
    page.click("nav[aria-label='Roles configuration'] >> text=Which profile")
    page.select_option("#record_type", "STAFF")
    page.select_option("#job_category", "Circulation")
    page.click("#test-attributes")
    expect(page.locator("#profiles-given")).to_contain_text("DESK")
    expect(page.locator("#trace-DESK-rule")).to_contain_text("yes")
    axe_clean(page, "admin-role-tester")
    page.fill("#primary_id", "jdoe")
    page.click("#test-user")
    expect(page.locator("#profiles-given")).to_contain_text("PATRON")
    axe_clean(page)
    # Restricted accounts: mark a group, see its users listed.
    page.click("nav[aria-label='Roles configuration'] >> text=Restricted accounts")
    axe_clean(page, "admin-restricted")
    page.check("#restricted-groups >> text=Undergraduate")
    page.click("#save-restricted")
    expect(page.locator("#notice")).to_have_text("The settings were saved.")
    expect(page.locator("#accounts")).to_contain_text("jdoe")
    axe_clean(page)
    assert _config(server)[2] == RestrictedSettings(frozenset({"UNDERGRAD"}))


def test_the_same_flows_without_javascript_for_a_user_administrator(
        browser: Browser, server: Live) -> None:
    from playwright.sync_api import expect

    page = browser.page(javascript=False)
    browser.sign_in(page, "useradmin")
    _profile_and_rule(page, server.url, "PLAIN")
    profiles, rules, _ = _config(server)
    assert "PLAIN" in profiles  # type: ignore[operator]
    assert any(r.rule_id == "PLAIN-rule" for r in rules)  # type: ignore[attr-defined]
    page.goto(f"{server.url}{BASE}/tester?primary_id=manager")
    expect(page.locator("#roles-added")).to_contain_text("none")
    page.goto(f"{server.url}{BASE}/restricted")
    page.check("#restricted-roles >> text=Circulation Desk Operator (32)")
    page.click("#save-restricted")
    expect(page.locator("#accounts")).to_contain_text("desk")
    page.goto(f"{server.url}{BASE}/rules/PLAIN-rule")
    page.click("#delete-rule")
    expect(page.locator("#deleted")).to_have_text("PLAIN-rule was deleted.")
    page.goto(f"{server.url}{BASE}/profiles/PLAIN")
    page.fill("#confirm", "PLAIN")
    page.click("#delete-profile")
    expect(page.locator("#deleted")).to_have_text("PLAIN was deleted.")


@pytest.mark.parametrize("who", ["manager"])
def test_the_role_configuration_pages_are_refused_to_a_user_manager(
        browser: Browser, server: Live, who: str) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, who)
    page.goto(f"{server.url}/staff/roles")
    expect(page.locator("#roles-admin")).to_have_count(0)
    for url in (BASE, f"{BASE}/profiles/PATRON", f"{BASE}/rules/new", f"{BASE}/tester",
                f"{BASE}/restricted"):
        response = page.goto(f"{server.url}{url}")
        assert response is not None and response.status == 403
        expect(page.locator("#refused")).to_be_visible()
    axe_clean(page)
