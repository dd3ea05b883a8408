"""What the ``bookplate sis`` commands share: the container, the consoles, one-line errors,
the sweep of ownerless runs and the look-up of a profile by its code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bookplate.cli.wiring import build_container
from bookplate.config import get_settings
from bookplate.sis.model import Profile

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_REJECTED, EXIT_ABORTED = 0, 1, 2

InstitutionOption = Annotated[str | None, typer.Option("--institution", "-i")]


def container() -> Container:
    return build_container(get_settings(), migrate=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def sweep(c: Container) -> None:
    """Mark interrupted the runs whose owning process is gone (a look at the runs), saying
    so."""
    for run_id in c.sis_jobs.sweep():
        err.print(f"run {run_id}: its process is gone; marked interrupted")


def resolve(c: Container, code: str, institution: str | None) -> Profile:
    if institution is not None:
        return c.sis.profile(institution, code)
    found = [p for p in c.sis.profiles(None) if p.code == code]
    if not found:
        fail(f"no users integration profile {code}")
    if len(found) > 1:
        fail(f"profile {code} exists in several institutions; give --institution")
    return found[0]
