"""What the ``bookplate sis`` commands share: the container, the consoles, one-line errors,
the sweep of ownerless runs and the look-up of a profile by its code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bookplate.cli import output
from bookplate.cli.output import console, err, refuse

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.sis.model import Profile

__all__ = ["EXIT_ABORTED", "EXIT_OK", "EXIT_REJECTED", "InstitutionOption", "console",
           "container", "err", "fail", "refuse", "resolve", "sweep"]

EXIT_OK, EXIT_REJECTED, EXIT_ABORTED = 0, 1, 2

InstitutionOption = Annotated[str | None, typer.Option("--institution", "-i")]


def container() -> Container:
    return output.container()


def fail(message: str, code: int = 2) -> NoReturn:
    output.fail(message, code)


def sweep(c: Container) -> None:
    """Mark interrupted the runs whose owning process is gone (a look at the runs), saying
    so."""
    for run_id in c.sis_jobs.sweep():
        err().print(f"run {run_id}: its process is gone; marked interrupted")


def resolve(c: Container, code: str, institution: str | None) -> Profile:
    if institution is not None:
        return c.sis.profile(institution, code)
    found = [p for p in c.sis.profiles(None) if p.code == code]
    if not found:
        fail(f"no users integration profile {code}")
    if len(found) > 1:
        fail(f"profile {code} exists in several institutions; give --institution")
    return found[0]
