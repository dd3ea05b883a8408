"""The administration pages in chromium (Playwright), on SQLite and PostgreSQL: the SIS flow
upload -> run -> report -> drill-down per role, with and without JavaScript, every page
checked by axe-core for WCAG 2.1 A/AA violations (the staff pages' browser fixtures)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.functional.live import BROWSER_MARKS, Browser, Live, axe_clean, browser, live, server
from tests.functional.test_sis_api import drain
from tests.integration.sis.helpers import user_xml, users_doc

__all__ = ["browser", "live", "server"]
pytestmark = BROWSER_MARKS

BASE = "/staff/admin/sis"


def _wait_done(server: Live, page: object, run_id: int) -> None:
    """Lets the queue run what it holds (the PostgreSQL worker in burst mode), then waits
    until the run's page says it is done."""
    from playwright.sync_api import expect

    drain(server)  # type: ignore[arg-type]  # drain() needs only .container
    page.goto(f"{server.url}{BASE}/runs/{run_id}")  # type: ignore[attr-defined]
    expect(page.locator("#run-status")).to_have_text("done")  # type: ignore[attr-defined]


def _upload(page: object, path: Path, *, dry_run: bool) -> int:
    page.select_option("#run-profile", "REG")  # type: ignore[attr-defined]
    page.set_input_files("#run-file", str(path))  # type: ignore[attr-defined]
    page.set_checked("#run-dry", dry_run)  # type: ignore[attr-defined]
    page.click("#start-run")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/staff/admin/sis/runs/\d+$"))  # type: ignore[attr-defined]
    return int(page.url.rsplit("/", 1)[1])  # type: ignore[attr-defined]


def test_sis_upload_run_report_and_drill_down(browser: Browser, server: Live,
                                              tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    browser.sign_in(page, "gsa")
    expect(page.locator("#menu-integration-profiles")).to_have_text("Integration profiles")
    page.click("#menu-integration-profiles")
    expect(page.locator("#profiles")).to_contain_text("Registrar")
    axe_clean(page, "admin-sis-profiles")
    page.click("text=REG")
    expect(page.locator("h1")).to_have_text("Users integration profile REG")
    axe_clean(page)
    # The CSV preview of a sample.
    sample = tmp_path / "sample.csv"
    sample.write_text("Student ID,Surname,Shoe\nc1,Lee,42\nc2,Kim,40\n")
    page.set_input_files("#sample", str(sample))
    page.click("#preview")
    expect(page.locator("#preview-users")).to_contain_text("c2")
    axe_clean(page, "admin-sis-preview")
    # A first real load, then a dry run that changes one user and adds another.
    first = tmp_path / "users.xml"
    first.write_bytes(users_doc(user_xml("s1", first="Ann"), user_xml("s2", first="Bo")))
    page.click("#run-with")
    axe_clean(page, "admin-sis-runs")
    run_id = _upload(page, first, dry_run=False)
    _wait_done(server, page, run_id)
    expect(page.locator("#count-create")).to_have_text("2")
    second = tmp_path / "users2.xml"
    second.write_bytes(users_doc(user_xml("s1", first="Anna"), user_xml("s2", first="Bo"),
                                 user_xml("s3", first="Cy")))
    page.goto(f"{server.url}{BASE}/runs")
    dry_id = _upload(page, second, dry_run=True)
    _wait_done(server, page, dry_id)
    axe_clean(page, "admin-sis-run")
    expect(page.locator("#count-update")).to_have_text("1")
    page.click("#bucket-update")
    expect(page.locator("#item-list")).to_contain_text("first_name: Ann → Anna")
    axe_clean(page)
    page.click("#item-list a:text-is('s1')")  # the user behind the drill-down row
    page.wait_for_url("**/staff/users/s1")
    expect(page.locator("h1")).to_contain_text("Ann")
    assert server.container.users.get("MAIN", "s1").first_name == "Ann"  # a dry run
    page.goto(f"{server.url}{BASE}/runs")
    expect(page.locator("#runs")).to_contain_text("users2.xml")
    axe_clean(page)


def test_sis_flow_without_javascript_for_a_user_administrator(
        browser: Browser, server: Live, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.page(javascript=False)
    browser.sign_in(page, "useradmin")
    page.goto(f"{server.url}/staff/")
    expect(page.locator("#menu-integration-profiles")).to_have_count(0)
    page.click("#menu-sis-jobs")
    file = tmp_path / "students.csv"
    file.write_text("Student ID,Surname\nc1,Lee\n")
    run_id = _upload(page, file, dry_run=False)
    _wait_done(server, page, run_id)
    page.click("#bucket-create")
    expect(page.locator("#item-list")).to_contain_text("c1")
    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("action,record,match_id,primary_id")
    assert ",c1," in text


@pytest.mark.parametrize("who", ["manager", "patron"])
def test_the_admin_pages_are_refused_to_a_user_manager_and_a_patron(
        browser: Browser, server: Live, who: str) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, who)
    for url in (f"{BASE}/profiles", f"{BASE}/runs"):
        response = page.goto(f"{server.url}{url}")
        assert response is not None and response.status == 403
        expect(page.locator("#refused")).to_be_visible()
    axe_clean(page)


def test_code_tables_add_a_user_group_for_a_record_type(browser: Browser, server: Live) -> None:
    from playwright.sync_api import expect

    page = browser.page()
    browser.sign_in(page, "useradmin")
    page.click("#menu-user-management-configuration")
    axe_clean(page, "admin-code-tables")
    page.click("#code-tables >> text=UserGroups")
    axe_clean(page, "admin-code-table")
    plain = browser.page(javascript=False)  # the same form without JavaScript
    browser.sign_in(plain, "useradmin")
    plain.goto(f"{server.url}/staff/admin/codes/UserGroups")
    plain.fill("#new-code", "ALUMNI")
    plain.fill("#new-description", "Alumni")
    plain.check("#new-STAFF")
    plain.click("#add")
    expect(plain.locator("#notice")).to_have_text("The code ALUMNI was saved.")
    expect(plain.locator("#code-ALUMNI input[name=record_type]:checked")).to_have_count(2)
    groups = server.container.users.code_book("MAIN").group_record_types
    assert "ALUMNI" in groups["STAFF"] and "ALUMNI" in groups["PUBLIC"]
