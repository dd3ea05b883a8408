"""``bookplate sis ...``: users integration profiles (``profiles``), sync/import runs, the
inbox and the worker (``runs``), the runs' reports (``reports``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from bookplate.cli.sis import profiles, reports, runs
from bookplate.cli.sis.runs import worker

__all__ = ["sis_app", "worker"]

sis_app = typer.Typer(no_args_is_help=True, help="SIS integration: load and sync external users.")
profile_app = typer.Typer(no_args_is_help=True, help="Users integration profiles.")
sis_app.add_typer(profile_app, name="profile")

_PROFILE_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("create", profiles.profile_create),
    ("update", profiles.profile_update),
    ("list", profiles.profile_list),
    ("show", profiles.profile_show),
    ("delete", profiles.profile_delete),
)
_RUN_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("sync", runs.sis_sync),
    ("runs", reports.sis_runs),
    ("report", reports.sis_report),
    ("watch", runs.sis_watch),
    ("requeue", runs.sis_requeue),
)
for name, command in _PROFILE_COMMANDS:
    profile_app.command(name)(command)
for name, command in _RUN_COMMANDS:
    sis_app.command(name)(command)
