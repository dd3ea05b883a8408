"""The settings and the container for CLI commands, each made on first use.

Importing the wiring loads the database layer and every service, and the settings load
pydantic-settings; ``bookplate --help`` or an argument error needs none of it, so the
commands' modules call these functions inside the command that runs (docs/benchmarks.md,
"CLI start-up"). The code-table and institution commands go further (``light_container``):
their container builds each service on first use, and the settings are read only when a
service asks for one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.bootstrap.light import CodeTablesOnly
    from bookplate.config import Settings

def settings() -> Settings:
    """The settings (``BOOKPLATE_*``), read on first use; log lines go to standard error
    from then on, so a command's output (``sis report --json``) stays parseable. ``serve``
    sets up its own logging when the app starts."""
    from bookplate import logs
    from bookplate.config import get_settings

    current = get_settings()
    logs.configure(current.log_level, current.log_json, to_stderr=True)
    return current


def build_container(settings: Settings, *, migrate: bool = False) -> Container:
    from bookplate.bootstrap import build_container as build

    return build(settings, migrate=migrate)


def light_container(*, migrate: bool = True) -> Container:
    """A container on the configured database whose services are built when first used
    (``bootstrap.open_container``). The URL is read straight from the environment
    (``bookplate.database_url``), or from the settings when a ``.env`` file may set it; the
    settings (and the logging they configure) are read when a service first needs them.
    Nothing that logs is loaded before that: a command on this container that logs has
    asked for a service, and so for the settings, first."""
    from bookplate.bootstrap import open_container
    from bookplate.database_url import from_environment

    url = from_environment()
    return open_container(url if url is not None else settings().database_url, settings,
                          migrate=migrate)


def code_tables() -> CodeTablesOnly:
    """The code tables for ``bookplate codes …`` (``bootstrap.open_code_tables``): on a
    SQLite file at the schema's head without SQLAlchemy, else the light container. The URL
    is read as by ``light_container``."""
    from bookplate.bootstrap import open_code_tables
    from bookplate.database_url import from_environment

    url = from_environment()
    return open_code_tables(url if url is not None else settings().database_url, settings)
