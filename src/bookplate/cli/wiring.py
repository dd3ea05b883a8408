"""The settings and the container for CLI commands, each made on first use.

Importing the wiring loads the database layer and every service, and the settings load
pydantic-settings; ``bookplate --help`` or an argument error needs none of it, so the
commands' modules call these functions inside the command that runs (docs/benchmarks.md,
"CLI start-up")."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
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
