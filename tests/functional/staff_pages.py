"""Shared set-up of the staff page tests: an institution with two libraries and one person
per role (the staff sign in with a password through the sign-in form)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bookplate.api.app import create_app
from bookplate.bootstrap import Container, build_container
from bookplate.cli.main import app
from bookplate.config import Settings, get_settings
from bookplate.roles.model import Library
from bookplate.users.model import Email, Identifier, Role, RoleParameter, User, UserInput
from tests.integration.sis.helpers import users_doc, write_zip

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# who -> (roles, record type, user group)
PEOPLE: dict[str, tuple[list[Role], str, str]] = {
    "gsa": ([Role("26", "MAIN")], "STAFF", "STAFF"),
    "useradmin": ([Role("50", "MAIN")], "STAFF", "STAFF"),
    "manager": ([Role("21", "MAIN")], "STAFF", "STAFF"),
    "desk": ([Role("32", "LIB_A", parameters=[
        RoleParameter("CirculationDesk", "LIB_A", "DESK_A")])], "STAFF", "STAFF"),
    "patron": ([Role("200", "MAIN")], "PUBLIC", "UNDERGRAD"),
}


def seed(c: Container) -> None:
    c.add_institution("MAIN", "Main University")
    c.roles.put_library("MAIN", Library("LIB_A", "Library A", frozenset({"DESK_A"})), "test")
    c.roles.put_library("MAIN", Library("LIB_B", "Library B", frozenset({"DESK_B"})), "test")
    for name, (roles, record_type, group) in PEOPLE.items():
        c.users.create("MAIN", UserInput(User(
            name, record_type=record_type, user_group=group, first_name=name.title(),
            last_name="Person", roles=roles,
            identifiers=[Identifier("BARCODE", f"BC-{name}")]), PASSWORD), "test")
    c.users.create("MAIN", UserInput(User(
        "jdoe", first_name="José", last_name="Doe-Müller", user_group="UNDERGRAD",
        identifiers=[Identifier("BARCODE", "39001-0042")],
        contact_info=_contact("jose@example.org"), roles=[Role("200", "MAIN")])), "test")


def _contact(address: str) -> object:
    from bookplate.users.model import ContactInfo

    return ContactInfo(emails=[Email(address, preferred=True, email_types=["personal"])])


@dataclass
class Site:
    client: TestClient
    container: Container

    def sign_in(self, who: str) -> None:
        self.client.cookies.clear()
        page = self.client.get("/auth/login")
        token = CSRF.search(page.text)
        assert token is not None
        r = self.client.post("/auth/login", data={
            "csrf_token": token.group(1), "institution": "MAIN", "username": who,
            "password": PASSWORD, "next": "/auth/me"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        self.landing = r.headers["location"]

    def csrf(self) -> str:
        page = self.client.get("/staff/")
        found = CSRF.search(page.text)
        assert found is not None, page.text
        return found.group(1)

    def post(self, url: str, data: dict[str, str]) -> object:
        return self.client.post(url, data={"csrf_token": self.csrf(), **data},
                                follow_redirects=False)


def site_for(database_url: str, **overrides: object) -> Iterator[Site]:
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                        session_cookie_secure=False, **overrides)  # type: ignore[arg-type]
    container = build_container(settings, migrate=True)
    seed(container)
    app = create_app(settings, container)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Site(client, container)
    container.close()


@contextmanager
def sis_loads(database_url: str, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path) -> Iterator[Callable[..., None]]:
    """``bookplate sis sync FILE -p SIS`` on the site's database, as an operator runs it: a
    profile SIS, then each call loads a zip of the given ``<user>`` records."""
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKPLATE_SIS_SPOOL", str(tmp_path / "spool"))
    get_settings.cache_clear()
    runner = CliRunner()
    made = runner.invoke(app, ["sis", "profile", "create", "SIS", "-i", "MAIN",
                               "--default-user-group", "UNDERGRAD"])
    assert made.exit_code == 0, made.output

    def sync(*users: str) -> None:
        path = write_zip(tmp_path / f"load{len(list(tmp_path.glob('load*')))}.zip",
                         {"users.xml": users_doc(*users)})
        result = runner.invoke(app, ["sis", "sync", str(path), "-p", "SIS", "--no-progress"])
        assert result.exit_code == 0, result.output

    try:
        yield sync
    finally:
        get_settings.cache_clear()
