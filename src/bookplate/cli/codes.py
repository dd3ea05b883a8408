"""``bookplate codes tables`` and ``bookplate codes standard``: which code tables an
institution has, and the ISO country and language lists added to an existing one."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from bookplate.cli.wiring import build_container
from bookplate.config import get_settings

console = Console()
err = Console(stderr=True)


def codes_tables(institution: str) -> None:
    """List an institution's code tables with how many codes each holds."""
    c = build_container(get_settings(), migrate=True)
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                err.print(f"[red]error:[/red] no institution {institution}")
                raise typer.Exit(1)
            counts = [
                (name, len(uow.codes.rows(institution, name)))
                for name in uow.codes.table_names(institution)
            ]
    finally:
        c.close()
    table = Table("table", "codes", title=f"Code tables of {institution}")
    for name, count in counts:
        table.add_row(name, str(count))
    console.print(table)


def codes_standard(institution: str) -> None:
    """Add every ISO 3166-1 country (alpha-3) and ISO 639-1 language an institution lacks
    (codes already there, and their descriptions, are kept)."""
    c = build_container(get_settings(), migrate=True)
    try:
        added = c.add_standard_codes(institution)
    finally:
        c.close()
    if added is None:
        err.print(f"[red]error:[/red] no institution {institution}")
        raise typer.Exit(1)
    for name in ("CountryCodes", "UserPreferredLanguage"):
        console.print(f"{name}: {added.get(name, 0)} codes added.")
