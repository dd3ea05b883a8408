"""``bookplate auth``: signing keys of discovery JWTs; LDAP/SAML/CAS/OIDC sign-in profiles;
unlocking accounts, password resets and self-registrations.

Bad input (an unknown institution, user or profile, an unreadable or invalid JSON file)
ends with one line and exit 2; mail that cannot be sent with one line and exit 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bookplate.auth.model import Method
from bookplate.cli.output import bad_input, check_text, console, fail, run, run_in

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

T = TypeVar("T")
WHO = "cli"
MAX_CONFIG_BYTES = 1_048_576

auth_app = typer.Typer(help="Authentication: discovery-token signing keys, sign-in profiles.",
                       no_args_is_help=True)


@auth_app.command("rotate-keys")
def rotate_keys(institution: str) -> None:
    """Make a new signing key for INSTITUTION's discovery JWTs. The previous key stays
    published at /auth/INSTITUTION/jwks.json until the tokens it signed have expired."""
    kid = run_in(institution, lambda c: c.discovery.rotate(institution))
    console().print(f"New signing key {kid} for {institution}.", markup=False)


# --- external sign-in profiles: bookplate auth ldap|saml|cas|oidc add/list/remove -----------


def _read_config(config: Path) -> dict[str, object]:
    """The profile's settings: a JSON object of at most 1 MiB, from the file or (``-``)
    standard input; anything else ends the command with one line and exit 2."""
    where = "standard input" if str(config) == "-" else str(config)
    try:
        if str(config) == "-":
            text = sys.stdin.read(MAX_CONFIG_BYTES + 1)
        else:
            if config.is_file() and config.stat().st_size > MAX_CONFIG_BYTES:
                bad_input(f"{where}: larger than {MAX_CONFIG_BYTES} bytes")
            text = config.read_text("utf-8")
        if len(text) > MAX_CONFIG_BYTES:
            bad_input(f"{where}: larger than {MAX_CONFIG_BYTES} bytes")
        data = json.loads(text)
    except OSError as exc:
        bad_input(f"cannot read {where}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        bad_input(f"{where} is not UTF-8 text")
    except json.JSONDecodeError as exc:
        bad_input(f"{where} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    if not isinstance(data, dict):
        bad_input(f"{where}: the configuration must be a JSON object")
    return data


def _add(method: Method, institution: str, code: str, config: Path, label: str | None) -> None:
    name = method.value.upper()
    check_text("the profile code", code)
    data = _read_config(config)
    if label is not None:
        data["label"] = check_text("--label", label)
    new = run_in(institution,
              lambda c: c.signin_admin.save(institution, method.value, code, data, WHO, None))
    console().print(f"{'Added' if new else 'Replaced'} {name} profile {code} "
                    f"for {institution}.", markup=False)


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
        if institution is None:
            rows = run(lambda c: c.signin_admin.listing(None, method.value, None))
        else:
            rows = run_in(institution,
                       lambda c: c.signin_admin.listing(institution, method.value, None))
        if not rows:
            console().print(f"No {name} profiles.")
        for row in rows:
            console().print(f"{row.institution} {row.code}", markup=False)
            console().print(json.dumps(row.config, indent=2, sort_keys=True),
                            markup=False, highlight=False)

    @group.command("remove")
    def remove(institution: str, code: str) -> None:
        """Remove INSTITUTION's profile CODE."""
        check_text("the profile code", code)
        if not run_in(institution,
                   lambda c: c.signin_admin.remove(institution, method.value, code, WHO, None)):
            fail(f"no {name} profile {code} for {institution}", 2)
        console().print(f"Removed {name} profile {code} of {institution}.", markup=False)

    return group


# every method but Bookplate's own passwords (without importing the backends: the CLI starts
# without the protocol libraries)
for _method in (m for m in Method if m is not Method.LOCAL):
    auth_app.add_typer(_profile_commands(_method), name=_method.value)


# --- administration: unlock an account, staff-triggered password reset ---------------------


def _on_user(institution: str, user_id: str, work: Callable[[Container, str], T]) -> T:
    """``work(container, primary_id)`` for one user of a known institution; an unknown
    user ends the command with one line and exit 2."""
    check_text("the user ID", user_id)
    return run_in(institution, lambda c: work(c, c.users.get(institution, user_id).primary_id))


@auth_app.command("unlock")
def unlock(institution: str, user_id: str) -> None:
    """End the lock of USER_ID's account (after repeated failed sign-ins) and forget the
    failures counted so far."""
    primary_id, was_locked = _on_user(
        institution, user_id, lambda c, pid: (pid, c.auth.unlock(institution, pid, WHO)))
    typer.echo(f"{primary_id}: {'unlocked' if was_locked else 'was not locked'}.")


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
    primary_id, result = _on_user(
        institution, user_id,
        lambda c, pid: (pid, c.resets.staff_reset(institution, pid, WHO,
                                                  send=not print_link)[1]))
    typer.echo(result if print_link else f"{primary_id}: link sent to {result}.")


@auth_app.command("registrations")
def registrations(institution: str) -> None:
    """Whether INSTITUTION's self-registration form (/register) is open, and if not why;
    then the registrations waiting for staff (approved, merged or rejected on
    /staff/registrations)."""

    def look(c: Container) -> None:
        service = c.registrations
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

    run_in(institution, look)
