"""``bookplate roles|libraries|staff``: the roles configuration and staff tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bookplate.cli.wiring import build_container
from bookplate.config import get_settings
from bookplate.errors import BookplateError
from bookplate.roles.model import (
    AssignmentRule,
    Library,
    ProfileRole,
    RestrictedSettings,
    RoleProfile,
)

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

roles_app = typer.Typer(
    no_args_is_help=True, help="Role profiles, assignment rules, restricted accounts."
)
libraries_app = typer.Typer(no_args_is_help=True, help="Libraries and circulation desks.")
staff_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for staff members.")

console = Console()
err = Console(stderr=True)
WHO = "cli"


def _container() -> Container:
    return build_container(get_settings(), migrate=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _run(action: str, work: Callable[[Container], object]) -> None:
    """Run ``work(container)``; a Bookplate error becomes a message and exit code 1."""
    c = _container()
    try:
        work(c)
    except BookplateError as exc:
        _fail(str(exc))
    finally:
        c.close()
    console.print(action)


def parse_role(spec: str) -> ProfileRole:
    """``TYPE[@SCOPE][#PARAM_TYPE:PARAM_SCOPE:VALUE][!YYYY-MM-DD]``.

    For example ``32@LIB_A#CirculationDesk:LIB_A:D1`` or ``200!2030-12-31``.
    """
    expiry = None
    if "!" in spec:
        spec, _, raw = spec.partition("!")
        try:
            expiry = date.fromisoformat(raw)
        except ValueError:
            raise typer.BadParameter(f"bad expiry date {raw!r}") from None
    params: tuple[tuple[str, str, str], ...] = ()
    if "#" in spec:
        spec, _, raw = spec.partition("#")
        parts = raw.split(":")
        if len(parts) != 3 or not all(parts):
            raise typer.BadParameter(f"parameter must be TYPE:SCOPE:VALUE, not {raw!r}")
        params = ((parts[0], parts[1], parts[2]),)
    role_type, _, scope = spec.partition("@")
    if not role_type.strip():
        raise typer.BadParameter("empty role type")
    return ProfileRole(role_type.strip(), scope.strip() or None, params, "ACTIVE", expiry)


@roles_app.command("profiles")
def profiles(institution: str) -> None:
    """List role profiles."""
    c = _container()
    try:
        config = c.roles.config(institution)
    finally:
        c.close()
    table = Table("code", "name", "roles", title=f"Role profiles of {institution}")
    for p in config.profiles.values():
        table.add_row(
            p.code, p.name, ", ".join(f"{r.role_type}@{r.scope or institution}" for r in p.roles)
        )
    console.print(table)


@roles_app.command("profile-set")
def profile_set(
    institution: str,
    code: str,
    name: str,
    role: Annotated[list[str], typer.Option(help="TYPE[@SCOPE][#TYPE:SCOPE:VALUE][!EXPIRY]")],
) -> None:
    """Create or replace a role profile."""
    profile = RoleProfile(code, name, tuple(parse_role(r) for r in role))
    _run(f"Profile {code} saved.", lambda c: c.roles.put_profile(institution, profile, WHO))


@roles_app.command("profile-remove")
def profile_remove(institution: str, code: str) -> None:
    """Remove a role profile."""
    _run(f"Profile {code} removed.", lambda c: c.roles.remove_profile(institution, code, WHO))


@roles_app.command("rules")
def rules(institution: str) -> None:
    """List role assignment rules in the order they apply."""
    c = _container()
    try:
        config = c.roles.config(institution)
    finally:
        c.close()
    table = Table(
        "id", "position", "profile", "user groups", "job categories", "record types", "campuses"
    )
    for r in config.rules:
        table.add_row(
            r.rule_id,
            str(r.position),
            r.profile,
            ",".join(sorted(r.user_groups)),
            ",".join(sorted(r.job_categories)),
            ",".join(sorted(r.record_types)),
            ",".join(sorted(r.campuses)),
        )
    console.print(table)


@roles_app.command("rule-set")
def rule_set(
    institution: str,
    rule_id: str,
    profile: str,
    user_group: Annotated[list[str] | None, typer.Option()] = None,
    job_category: Annotated[list[str] | None, typer.Option()] = None,
    record_type: Annotated[list[str] | None, typer.Option()] = None,
    campus: Annotated[list[str] | None, typer.Option()] = None,
    position: Annotated[int, typer.Option(min=0, max=10_000)] = 0,
) -> None:
    """Create or replace an assignment rule (every given condition must match)."""
    kinds = {r.upper() for r in record_type or []}
    if not kinds <= {"PUBLIC", "STAFF", "CONTACT"}:
        _fail("record types must be PUBLIC, STAFF or CONTACT")
    rule = AssignmentRule(
        rule_id,
        profile,
        frozenset(user_group or []),
        frozenset(job_category or []),
        frozenset(kinds),
        frozenset(campus or []),
        position,
    )
    _run(f"Rule {rule_id} saved.", lambda c: c.roles.put_rule(institution, rule, WHO))


@roles_app.command("rule-remove")
def rule_remove(institution: str, rule_id: str) -> None:
    """Remove a role-assignment rule."""
    _run(f"Rule {rule_id} removed.", lambda c: c.roles.remove_rule(institution, rule_id, WHO))


@roles_app.command("restricted")
def restricted(
    institution: str,
    user_group: Annotated[list[str] | None, typer.Option()] = None,
    role_type: Annotated[list[str] | None, typer.Option()] = None,
) -> None:
    """Set which user groups and role types make an account restricted."""
    settings = RestrictedSettings(frozenset(user_group or []), frozenset(role_type or []))
    _run("Restricted accounts set.", lambda c: c.roles.set_restricted(institution, settings, WHO))


@roles_app.command("history")
def history(institution: str) -> None:
    """Every change to the roles configuration: when, who, what."""
    c = _container()
    try:
        rows = c.roles.history(institution)
    finally:
        c.close()
    table = Table("at", "who", "action", "target")
    for r in rows:
        table.add_row(str(r["at"]), str(r["actor"]), str(r["action"]), str(r["target"]))
    console.print(table)


@libraries_app.command("set")
def library_set(
    institution: str,
    code: str,
    name: str,
    desk: Annotated[list[str] | None, typer.Option(help="circulation desk code")] = None,
) -> None:
    """Create or replace a library with its circulation desks."""
    if not code.strip() or len(code) > 64 or any(len(d) > 64 or not d.strip() for d in desk or []):
        _fail("library and desk codes must be 1-64 characters")
    library = Library(code, name, frozenset(desk or []))
    _run(f"Library {code} saved.", lambda c: c.roles.put_library(institution, library, WHO))


@libraries_app.command("list")
def library_list(institution: str) -> None:
    """List the libraries and their circulation desks."""
    c = _container()
    try:
        libraries = c.roles.config(institution).libraries
    finally:
        c.close()
    table = Table("code", "name", "circulation desks")
    for lib in libraries.values():
        table.add_row(lib.code, lib.name, ", ".join(sorted(lib.desks)))
    console.print(table)


@staff_app.command("token")
def staff_token(institution: str, primary_id: str) -> None:
    """Issue a bearer token for a staff member (printed once, stored hashed)."""
    c = _container()
    try:
        token_id, secret = c.tokens.issue(institution, primary_id)
    except BookplateError as exc:
        _fail(str(exc))
        return
    finally:
        c.close()
    console.print(f"token id {token_id}")
    print(secret)


@staff_app.command("revoke")
def staff_revoke(token_id: str) -> None:
    """Revoke a staff bearer token."""
    c = _container()
    try:
        done = c.tokens.revoke(token_id)
    finally:
        c.close()
    if not done:
        _fail(f"no live token {token_id}")
    console.print(f"Token {token_id} revoked.")
