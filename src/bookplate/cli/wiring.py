"""The container for CLI commands, with ``bookplate.bootstrap`` imported on first use.

Importing the wiring loads the database layer and every service; a command such as
``bookplate --help`` needs none of it, so the commands' modules import this function instead
(docs/benchmarks.md, "CLI start-up")."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.config import Settings


def build_container(settings: Settings, *, migrate: bool = False) -> Container:
    from bookplate.bootstrap import build_container as build

    return build(settings, migrate=migrate)
