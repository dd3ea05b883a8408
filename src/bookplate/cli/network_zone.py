"""``bookplate network zone``: Network Zone style central management (docs/networks.md,
"Network Zone"): the central institution, its members, and a member's copy of a central
user. Bad input: one line and exit 2; a refusal (a copy that exists already): exit 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli import output
from bookplate.cli.output import console

if TYPE_CHECKING:
    from bookplate.network.zone import Zone

zone_app = typer.Typer(no_args_is_help=True,
                       help="Network Zone: users kept by a central institution for its members.")
WHO = "cli"


def _print(zone: Zone) -> None:
    members = ", ".join(zone.members) or "none"
    console().print(f"central: {zone.central or 'none (no zone)'}; members: {members}",
                    soft_wrap=True, highlight=False, markup=False)


@zone_app.command("show")
def show() -> None:
    """The zone's central institution and its members."""
    _print(output.run(lambda c: c.network.zone()))


@zone_app.command("central")
def central(
    institution: Annotated[str | None, typer.Argument(help="the central institution")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="no zone (copies stay)")] = False,
) -> None:
    """Make INSTITUTION the zone's central institution (or --clear)."""
    if (institution is None) == (not clear):
        output.bad_input("give the central institution, or --clear (not both)")
    _print(output.run(lambda c: c.network.set_zone_central(institution, WHO)))


@zone_app.command("member-set")
def member_set(institution: str) -> None:
    """Add INSTITUTION to the zone as a member."""
    _print(output.run(lambda c: c.network.zone_member_set(institution, WHO)))


@zone_app.command("member-remove")
def member_remove(institution: str) -> None:
    """Remove INSTITUTION from the zone (its copies stay, no longer refreshed)."""
    _print(output.run(lambda c: c.network.zone_member_remove(institution, WHO)))


@zone_app.command("copy")
def copy_user(
    member: Annotated[str, typer.Argument(help="the member institution that gets the copy")],
    user_id: Annotated[str, typer.Argument(help="any unique ID of the central's user")],
) -> None:
    """Give MEMBER its copy of the central's user USER_ID (any unique ID)."""
    user = output.run(lambda c: c.network.zone_copy_user(member, user_id, WHO))
    console().print(f"Zone copy {user.primary_id} created in {member} "
                    f"(from {user.source_institution_code}).", soft_wrap=True,
                    highlight=False, markup=False)
