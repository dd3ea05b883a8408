"""``bookplate auth``: signing keys of discovery JWTs."""

from __future__ import annotations

import typer
from rich.console import Console

from bookplate.bootstrap import build_container
from bookplate.config import get_settings

auth_app = typer.Typer(help="Authentication: discovery-token signing keys.", no_args_is_help=True)
console = Console()


@auth_app.command("rotate-keys")
def rotate_keys(institution: str) -> None:
    """Make a new signing key for INSTITUTION's discovery JWTs. The previous key stays
    published at /auth/INSTITUTION/jwks.json until the tokens it signed have expired."""
    container = build_container(get_settings(), migrate=True)
    try:
        with container.uow_factory() as uow:
            known = uow.institutions.get(institution) is not None
        if not known:
            console.print(f"[red]Unknown institution {institution}[/red]")
            raise typer.Exit(1)
        kid = container.discovery.rotate(institution)
        console.print(f"New signing key {kid} for {institution}.")
    finally:
        container.close()
