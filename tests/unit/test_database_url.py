"""``bookplate.database_url.from_environment`` gives the URL ``Settings`` would read (the
light CLI commands use it instead of pydantic-settings), or None when a ``.env`` file may
change it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bookplate.config import Settings
from bookplate.database_url import default_database_url, from_environment


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.lower() == "bookplate_database_url"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"BOOKPLATE_DATABASE_URL": "sqlite:////srv/bookplate/main.db"},
        {"bookplate_database_url": "postgresql+psycopg://u@db/bookplate"},  # any case
        {"Bookplate_Database_Url": "sqlite:///relative.db"},
        {"BOOKPLATE_DATABASE_URL": ""},  # empty is a value, as for the settings
        {"BOOKPLATE_DATABASE_URL": "sqlite:///x.db?mode=ro&cache=shared"},
    ],
)
def test_the_url_is_the_settings_one(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert from_environment() == Settings().database_url


def test_unset_is_the_default_file() -> None:
    assert from_environment() == default_database_url() == Settings().database_url
    assert default_database_url().endswith("/data/bookplate/bookplate.db")


def test_a_dot_env_file_leaves_it_to_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOOKPLATE_DATABASE_URL=sqlite:////from/dotenv.db\n")
    assert from_environment() is None
    assert Settings().database_url == "sqlite:////from/dotenv.db"
