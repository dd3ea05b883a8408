"""Real code lists: every ISO 3166-1 alpha-3 country and ISO 639-1 language is loaded for a
new institution and can be added to an older one; a refused code names its table and the
command that adds it, in the API error and in the SIS report (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.network.model import Institution
from bookplate.sis.model import Profile
from bookplate.users.errors import InvalidCode
from tests.integration.sis.helpers import user_xml, users_doc, write_zip

JAPAN = (
    "<contact_info><addresses><address preferred=\"true\"><line1>1-1 Chiyoda</line1>"
    "<city>Tokyo</city><country>JPN</country><address_types><address_type>home"
    "</address_type></address_types></address></addresses></contact_info>"
    "<preferred_language>ja</preferred_language>"
)


@pytest.fixture
def c(database_url: str) -> Iterator[Container]:
    container = build_container(
        Settings(database_url=database_url, cache_seconds=0, redis_url=None), migrate=True
    )
    try:
        yield container
    finally:
        container.close()


def _old_institution(c: Container, code: str) -> None:
    """An institution made before the standard lists: only the hand-picked defaults."""
    with c.uow_factory() as uow:
        uow.institutions.add(Institution(code, "Old Library"))
        uow.codes.seed(code)
        uow.commit()
    c.roles.seed(code)


def _codes(c: Container, institution: str, table: str) -> dict[str, str]:
    with c.uow_factory() as uow:
        return {r.code: r.description for r in uow.codes.rows(institution, table)}


def test_a_new_institution_has_every_country_and_language(c: Container) -> None:
    c.add_institution("MAIN", "Main University")
    countries = _codes(c, "MAIN", "CountryCodes")
    languages = _codes(c, "MAIN", "UserPreferredLanguage")
    assert len(countries) >= 249
    assert countries["JPN"] == "Japan" and countries["KOR"] and countries["BRA"]
    assert all(len(code) == 3 and code.isupper() for code in countries)
    assert len(languages) >= 180
    assert languages["ja"] == "Japanese" and languages["no"] and languages["zu"]
    # the hand-picked defaults stay first, in their order
    with c.uow_factory() as uow:
        first = [r.code for r in uow.codes.rows("MAIN", "CountryCodes")[:3]]
    assert first == ["USA", "CAN", "GBR"]


def test_sis_file_with_japanese_addresses_loads_on_a_new_institution(
    c: Container, tmp_path: Path
) -> None:
    c.add_institution("MAIN", "Main University")
    c.sis.create_profile(Profile(code="SIS", institution="MAIN", default_user_group="UNDERGRAD"))
    path = write_zip(tmp_path / "a.zip", {"a.xml": users_doc(user_xml("u1", extra=JAPAN))})
    report = c.sis.run("MAIN", "SIS", path)
    assert report.counts["create"] == 1 and report.counts["reject"] == 0
    user = c.users.get("MAIN", "u1")
    assert user.contact_info.addresses[0].country == "JPN"
    assert user.preferred_language == "ja"


def test_an_older_institution_is_told_which_table_and_command(
    c: Container, tmp_path: Path
) -> None:
    _old_institution(c, "OLD")
    c.sis.create_profile(Profile(code="SIS", institution="OLD", default_user_group="UNDERGRAD"))
    path = write_zip(tmp_path / "a.zip", {"a.xml": users_doc(user_xml("u1", extra=JAPAN))})
    report = c.sis.run("OLD", "SIS", path)
    assert report.counts["reject"] == 1
    (item,) = c.sis.items(report.run_id or 0, "reject")
    reason = item.detail or ""
    assert reason.startswith(
        ("Given country type (JPN) is invalid.", "Given preferred language type (ja) is invalid.")
    )
    assert "Code table CountryCodes" in reason or "Code table UserPreferredLanguage" in reason
    assert "bookplate codes standard OLD" in reason

    added = c.add_standard_codes("OLD")
    assert added is not None and added["CountryCodes"] >= 240
    assert added["UserPreferredLanguage"] >= 170
    assert c.add_standard_codes("OLD") == {}  # idempotent: nothing more to add
    assert c.add_standard_codes("NOPE") is None
    again = c.sis.run("OLD", "SIS", path)
    assert again.counts["create"] == 1 and again.counts["reject"] == 0


def test_adding_the_lists_keeps_what_staff_changed(c: Container) -> None:
    _old_institution(c, "OLD")
    from bookplate.users.ports import CodeRow

    with c.uow_factory() as uow:
        uow.codes.put_row("OLD", "CountryCodes", CodeRow("USA", "U.S.A.", True, True))
        uow.commit()
    c.add_standard_codes("OLD")
    with c.uow_factory() as uow:
        rows = {r.code: r for r in uow.codes.rows("OLD", "CountryCodes")}
    assert rows["USA"].description == "U.S.A." and rows["USA"].default
    assert rows["JPN"].description == "Japan"


def test_a_code_outside_a_non_standard_table_names_only_the_set_command(c: Container) -> None:
    err = InvalidCode("user group", "ROBOTS", "UserGroups", "MAIN")
    text = str(err)
    assert text.startswith("Given user group type (ROBOTS) is invalid.")
    assert 'bookplate codes set MAIN UserGroups CODE DESCRIPTION' in text
    assert "codes standard" not in text
