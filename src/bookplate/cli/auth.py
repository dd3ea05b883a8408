"""``bookplate auth``: signing keys of discovery JWTs; LDAP/SAML/CAS/OIDC sign-in profiles."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bookplate.auth.errors import MailUnavailable, ProfileInvalid, ResetNotPossible
from bookplate.auth.model import Method
from bookplate.cli.wiring import build_container
from bookplate.config import get_settings
from bookplate.users.errors import UserNotFound

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

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
            new = container.signin_admin.save(institution, method.value, code, data, "cli",
                                              None)
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
            rows = container.signin_admin.listing(institution, method.value, None)
            if not rows:
                console.print(f"No {name} profiles.")
            for row in rows:
                console.print(f"{row.institution} {row.code}", markup=False)
                console.print(json.dumps(row.config, indent=2, sort_keys=True),
                              markup=False, highlight=False)
        finally:
            container.close()

    @group.command("remove")
    def remove(institution: str, code: str) -> None:
        """Remove INSTITUTION's profile CODE."""
        container = build_container(get_settings(), migrate=True)
        try:
            if not container.signin_admin.remove(institution, method.value, code, "cli", None):
                console.print(f"[red]No {name} profile {code} for {institution}[/red]")
                raise typer.Exit(1)
            console.print(f"Removed {name} profile {code} of {institution}.")
        finally:
            container.close()

    return group


# every method but Bookplate's own passwords (without importing the backends: the CLI starts
# without the protocol libraries)
for _method in (m for m in Method if m is not Method.LOCAL):
    auth_app.add_typer(_profile_commands(_method), name=_method.value)


# --- administration: unlock an account, staff-triggered password reset ---------------------


def _user_command(institution: str, user_id: str) -> Container:
    """A container for a command on one user; exit 2 with one line for bad input."""
    if not user_id or len(user_id) > 255 or not user_id.isprintable():
        typer.echo("Error: the user ID must be 1 to 255 printable characters.", err=True)
        raise typer.Exit(2)
    container = build_container(get_settings(), migrate=True)
    with container.uow_factory() as uow:
        known = uow.institutions.get(institution) is not None
    if not known:
        container.close()
        typer.echo(f"Error: unknown institution {institution!r}.", err=True)
        raise typer.Exit(2)
    return container


@auth_app.command("unlock")
def unlock(institution: str, user_id: str) -> None:
    """End the lock of USER_ID's account (after repeated failed sign-ins) and forget the
    failures counted so far."""
    container = _user_command(institution, user_id)
    try:
        user = container.users.get(institution, user_id)
        was_locked = container.auth.unlock(institution, user.primary_id, "cli")
        typer.echo(f"{user.primary_id}: {'unlocked' if was_locked else 'was not locked'}.")
    except UserNotFound:
        typer.echo(f"Error: no user {user_id!r} in {institution}.", err=True)
        raise typer.Exit(2) from None
    finally:
        container.close()


@auth_app.command("reset-password")
def reset_password(
    institution: str,
    user_id: str,
    print_link: Annotated[bool, typer.Option(
        "--print-link", help="Print the one-time link instead of mailing it (to hand it to "
        "the user in person).")] = False,
) -> None:
    """Send USER_ID a one-time link to choose a new password (mailed to the preferred
    e-mail address), as staff do at the desk."""
    container = _user_command(institution, user_id)
    try:
        user = container.users.get(institution, user_id)
        _, result = container.resets.staff_reset(institution, user.primary_id, "cli",
                                               send=not print_link)
        typer.echo(result if print_link else f"{user.primary_id}: link sent to {result}.")
    except UserNotFound:
        typer.echo(f"Error: no user {user_id!r} in {institution}.", err=True)
        raise typer.Exit(2) from None
    except ResetNotPossible as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    except MailUnavailable as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.close()


@auth_app.command("registrations")
def registrations(institution: str) -> None:
    """Whether INSTITUTION's self-registration form (/register) is open, and if not why;
    then the registrations waiting for staff (approved, merged or rejected on
    /staff/registrations)."""
    container = _user_command(institution, "-")
    try:
        service = container.registrations
        reason = service.why_closed(institution)
        policy = service.policies.get(institution)
        if reason is None and policy is not None:
            typer.echo(f"Self-registration is open: pending group {policy.pending_group}, "
                       f"{policy.pending_days} days, links valid {policy.link_hours} hours.")
        else:
            typer.echo(f"Self-registration is closed: {reason}.")
        waiting = service.store.pending(institution, 1000)
        for r in waiting:
            confirmed = r.confirmed_at.isoformat() if r.confirmed_at else "not confirmed"
            typer.echo(f"{r.primary_id}\t{r.email}\t{r.created_at.isoformat()}\t{confirmed}")
        typer.echo(f"{len(waiting)} waiting.")
    finally:
        container.close()
