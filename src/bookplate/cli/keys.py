"""``bookplate keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.output import BAD_INPUT, check_text, console, container, fail
from bookplate.cli.tables import table

if TYPE_CHECKING:
    from datetime import datetime

keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke.")


@keys_app.command("create")
def keys_create(
    institution: Annotated[str, typer.Option(help="Institution code.")],
    area: Annotated[
        list[str], typer.Option(help="AREA:ro or AREA:rw (repeatable); areas: users, conf.")
    ],
    name: Annotated[str, typer.Option(help="A name saying who uses the key.")] = "",
    per_second: Annotated[
        int, typer.Option(min=1, max=100_000, help="Requests per second the key may make.")
    ] = 50,
) -> None:
    """Create a key and print its secret (shown once; stored hashed)."""
    from bookplate.keys.errors import InvalidKeyInput
    from bookplate.keys.services import parse_areas

    check_text("--institution", institution)
    if name:
        check_text("--name", name)
    try:
        areas = parse_areas(area)
    except ValueError as exc:
        fail(f"bad --area: {exc}", BAD_INPUT)
    c = container()
    try:
        with c.uow_factory() as uow:
            if uow.institutions.get(institution) is None:
                fail(f"no institution {institution}; see bookplate institutions list", BAD_INPUT)
        try:
            key, secret = c.keys.create(institution, name, areas, per_second, who="cli")
        except InvalidKeyInput as exc:
            fail(str(exc), BAD_INPUT)
    finally:
        c.close()
    console().print(f"key id {key.key_id}")
    print(secret)


@keys_app.command("list")
def keys_list(
    institution: Annotated[
        str | None, typer.Option(help="Only this institution's keys (default: all).")
    ] = None,
) -> None:
    """List API keys (never their secrets), of one institution or all."""
    if institution is not None:
        check_text("--institution", institution)
    c = container()
    try:
        keys = c.keys.list(institution)
    finally:
        c.close()
    out = table("id", "institution", "name", "areas", "per second", "created", "revoked")
    for k in keys:
        out.add_row(
            k.key_id,
            k.institution,
            k.name,
            ",".join(f"{a.value}:{x.value}" for a, x in k.areas.items()),
            str(k.per_second),
            _minute(k.created),
            _minute(k.revoked),
        )
    console().print(out)


def _minute(moment: datetime | None) -> str:
    """A time to the minute (``2026-12-07 16:40``): the seconds and the time zone made the
    two time columns take a third of an 80-column line."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as bookplate keys list shows.")],
) -> None:
    """Revoke a key; every worker refuses it within the cache time."""
    check_text("the key id", key_id)
    c = container()
    try:
        if not c.keys.revoke(key_id, who="cli"):
            fail(f"no key {key_id}; see bookplate keys list", BAD_INPUT)
    finally:
        c.close()
    console().print(f"Key {key_id} revoked.")
