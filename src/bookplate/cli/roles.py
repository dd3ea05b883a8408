"""``bookplate roles|libraries|staff``: the roles configuration and staff tokens.

Bad input (an unknown institution, profile, rule or user, a malformed role or code) ends
with one line and exit 2; a refusal of the service (the last administrator, a user without
staff privileges) with one line and exit 1 (``output.refuse``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.output import bad_input, check_text, console, fail, run, run_in
from bookplate.cli.tables import table

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.roles.model import ProfileRole
    from bookplate.roles.services import RolesConfig

roles_app = typer.Typer(
    no_args_is_help=True, help="Role profiles, assignment rules, restricted accounts."
)
libraries_app = typer.Typer(no_args_is_help=True, help="Libraries and circulation desks.")
staff_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for staff members.")

WHO = "cli"


def _change(institution: str, action: str, work: Callable[[Container], object]) -> None:
    """Make a change in a known institution and say so."""
    run_in(institution, work)
    console().print(action)


def _config(institution: str) -> RolesConfig:
    return run_in(institution, lambda c: c.roles.config(institution))


def parse_role(spec: str) -> ProfileRole:
    """``TYPE[@SCOPE][#PARAM_TYPE:PARAM_SCOPE:VALUE][!YYYY-MM-DD]``.

    For example ``32@LIB_A#CirculationDesk:LIB_A:D1`` or ``200!2030-12-31``.
    """
    from bookplate.roles.model import ProfileRole

    expiry = None
    if "!" in spec:
        spec, _, raw = spec.partition("!")
        try:
            expiry = date.fromisoformat(raw)
        except ValueError:
            bad_input(f"--role {spec}!{raw}: the expiry must be a date, YYYY-MM-DD")
    params: tuple[tuple[str, str, str], ...] = ()
    if "#" in spec:
        spec, _, raw = spec.partition("#")
        parts = raw.split(":")
        if len(parts) != 3 or not all(parts):
            bad_input(f"--role {spec}#{raw}: the parameter must be TYPE:SCOPE:VALUE")
        params = ((parts[0], parts[1], parts[2]),)
    role_type, _, scope = spec.partition("@")
    if not role_type.strip():
        bad_input(f"--role {spec!r}: the role type is empty")
    return ProfileRole(role_type.strip(), scope.strip() or None, params, "ACTIVE", expiry)


@roles_app.command("profiles")
def profiles(institution: str) -> None:
    """List role profiles."""
    config = _config(institution)
    out = table("code", "name", "roles", title=f"Role profiles of {institution}")
    for p in config.profiles.values():
        out.add_row(
            p.code, p.name, ", ".join(f"{r.role_type}@{r.scope or institution}" for r in p.roles)
        )
    console().print(out)


@roles_app.command("profile-set")
def profile_set(
    institution: str,
    code: str,
    name: str,
    role: Annotated[list[str], typer.Option(help="TYPE[@SCOPE][#TYPE:SCOPE:VALUE][!EXPIRY]")],
) -> None:
    """Create or replace a role profile."""
    from bookplate.roles.model import RoleProfile

    check_text("the profile code", code)
    check_text("the profile name", name)
    profile = RoleProfile(code, name, tuple(parse_role(r) for r in role))
    _change(institution, f"Profile {code} saved.",
            lambda c: c.roles.put_profile(institution, profile, WHO))


@roles_app.command("profile-remove")
def profile_remove(institution: str, code: str) -> None:
    """Remove a role profile."""
    _change(institution, f"Profile {code} removed.",
            lambda c: c.roles.remove_profile(institution, code, WHO))


@roles_app.command("rules")
def rules(institution: str) -> None:
    """List role assignment rules in the order they apply."""
    config = _config(institution)
    out = table(
        "id", "position", "profile", "user groups", "job categories", "record types", "campuses"
    )
    for r in config.rules:
        out.add_row(
            r.rule_id,
            str(r.position),
            r.profile,
            ",".join(sorted(r.user_groups)),
            ",".join(sorted(r.job_categories)),
            ",".join(sorted(r.record_types)),
            ",".join(sorted(r.campuses)),
        )
    console().print(out)


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
    from bookplate.roles.model import AssignmentRule

    check_text("the rule id", rule_id)
    kinds = {r.upper() for r in record_type or []}
    if not kinds <= {"PUBLIC", "STAFF", "CONTACT"}:
        bad_input("record types must be PUBLIC, STAFF or CONTACT")
    rule = AssignmentRule(
        rule_id,
        profile,
        frozenset(user_group or []),
        frozenset(job_category or []),
        frozenset(kinds),
        frozenset(campus or []),
        position,
    )
    _change(institution, f"Rule {rule_id} saved.",
            lambda c: c.roles.put_rule(institution, rule, WHO))


@roles_app.command("rule-remove")
def rule_remove(institution: str, rule_id: str) -> None:
    """Remove a role-assignment rule."""
    _change(institution, f"Rule {rule_id} removed.",
            lambda c: c.roles.remove_rule(institution, rule_id, WHO))


@roles_app.command("restricted")
def restricted(
    institution: str,
    user_group: Annotated[list[str] | None, typer.Option()] = None,
    role_type: Annotated[list[str] | None, typer.Option()] = None,
) -> None:
    """Set which user groups and role types make an account restricted."""
    from bookplate.roles.model import RestrictedSettings

    for value in [*(user_group or []), *(role_type or [])]:
        check_text("a user group or role type", value)
    settings = RestrictedSettings(frozenset(user_group or []), frozenset(role_type or []))
    _change(institution, "Restricted accounts set.",
            lambda c: c.roles.set_restricted(institution, settings, WHO))


@roles_app.command("history")
def history(institution: str) -> None:
    """Every change to the roles configuration: when, who, what."""
    rows = run_in(institution, lambda c: c.roles.history(institution))
    out = table("at", "who", "action", "target")
    for r in rows:
        out.add_row(str(r["at"]), str(r["actor"]), str(r["action"]), str(r["target"]))
    console().print(out)


@libraries_app.command("set")
def library_set(
    institution: str,
    code: str,
    name: str,
    desk: Annotated[list[str] | None, typer.Option(help="circulation desk code")] = None,
) -> None:
    """Create or replace a library with its circulation desks."""
    from bookplate.roles.model import Library

    if not code.strip() or len(code) > 64 or any(len(d) > 64 or not d.strip() for d in desk or []):
        bad_input("library and desk codes must be 1-64 characters")
    library = Library(code, name, frozenset(desk or []))
    _change(institution, f"Library {code} saved.",
            lambda c: c.roles.put_library(institution, library, WHO))


@libraries_app.command("list")
def library_list(institution: str) -> None:
    """List the libraries and their circulation desks."""
    libraries = _config(institution).libraries
    out = table("code", "name", "circulation desks")
    for lib in libraries.values():
        out.add_row(lib.code, lib.name, ", ".join(sorted(lib.desks)))
    console().print(out)


@staff_app.command("token")
def staff_token(institution: str, primary_id: str) -> None:
    """Issue a bearer token for a staff member (printed once, stored hashed). A user
    without an active staff role is refused, with the roles to add."""
    check_text("the primary ID", primary_id)
    token_id, secret = run_in(institution, lambda c: c.tokens.issue(institution, primary_id))
    console().print(f"token id {token_id}")
    print(secret)


@staff_app.command("revoke")
def staff_revoke(token_id: str) -> None:
    """Revoke a staff bearer token."""
    check_text("the token id", token_id)
    if not run(lambda c: c.tokens.revoke(token_id)):
        fail(f"no live token {token_id}", 2)
    console().print(f"Token {token_id} revoked.")
