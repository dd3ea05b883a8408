"""``bookplate auth``: signing keys of discovery JWTs; LDAP/SAML/CAS/OIDC sign-in profiles."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bookplate.auth.errors import ProfileInvalid
from bookplate.auth.model import Method
from bookplate.bootstrap import build_container
from bookplate.config import get_settings

auth_app = typer.Typer(help="Authentication: discovery-token signing keys, sign-in profiles.",
                       no_args_is_help=True)
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


# --- external sign-in profiles: bookplate auth ldap|saml|cas|oidc add/list/remove -----------


def _read_config(config: Path) -> dict[str, object]:
    try:
        text = sys.stdin.read() if str(config) == "-" else config.read_text("utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        console.print(f"[red]Cannot read the configuration: {exc}[/red]", markup=True)
        raise typer.Exit(1) from None
    if not isinstance(data, dict):
        console.print("[red]The configuration must be a JSON object.[/red]")
        raise typer.Exit(1)
    return data


def _add(method: Method, institution: str, code: str, config: Path, label: str | None) -> None:
    name = method.value.upper()
    data = _read_config(config)
    if label is not None:
        data["label"] = label
    container = build_container(get_settings(), migrate=True)
    try:
        with container.uow_factory() as uow:
            known = uow.institutions.get(institution) is not None
        if not known:
            console.print(f"[red]Unknown institution {institution}[/red]")
            raise typer.Exit(1)
        try:
            _, new = container.external.add(method, institution, code, data)
        except ProfileInvalid as exc:
            console.print(f"Profile refused: {exc}", style="red", markup=False)
            raise typer.Exit(1) from None
        console.print(f"{'Added' if new else 'Replaced'} {name} profile {code} "
                      f"for {institution}.", markup=False)
    finally:
        container.close()


def _profile_commands(method: Method) -> typer.Typer:
    name = method.value.upper()
    group = typer.Typer(help=f"{name} sign-in profiles.", no_args_is_help=True)

    @group.command("add")
    def add(
        institution: str,
        code: str,
        config: Annotated[Path, typer.Option(help="JSON file with the profile's settings and "
                                             "its 'mapping' ('-' reads standard input).")],
        label: Annotated[str | None, typer.Option(help="What the login button says.")] = None,
    ) -> None:
        """Add or replace INSTITUTION's profile CODE from a JSON file (see
        docs/authentication.md for the settings of each method)."""
        _add(method, institution, code, config, label)

    @group.command("list")
    def list_(institution: str | None = typer.Argument(None)) -> None:
        """List the profiles (secrets are never shown)."""
        container = build_container(get_settings(), migrate=True)
        try:
            from bookplate.auth.profiles import public_config  # lazy: the protocol libraries

            rows = container.external.profiles.list(institution, method.value)
            if not rows:
                console.print(f"No {name} profiles.")
            for row in rows:
                console.print(f"{row.institution} {row.code}")
                console.print(json.dumps(public_config(row.config), indent=2, sort_keys=True),
                              markup=False, highlight=False)
        finally:
            container.close()

    @group.command("remove")
    def remove(institution: str, code: str) -> None:
        """Remove INSTITUTION's profile CODE."""
        container = build_container(get_settings(), migrate=True)
        try:
            if not container.external.profiles.remove(institution, method.value, code):
                console.print(f"[red]No {name} profile {code} for {institution}[/red]")
                raise typer.Exit(1)
            console.print(f"Removed {name} profile {code} of {institution}.")
        finally:
            container.close()

    return group


for _method in (Method.LDAP, Method.SAML, Method.CAS, Method.OIDC):
    auth_app.add_typer(_profile_commands(_method), name=_method.value)
