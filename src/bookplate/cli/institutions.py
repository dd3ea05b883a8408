"""``bookplate institutions``: add and list the institutions, choose where IDs are unique."""

from __future__ import annotations

from typing import Annotated

import typer

from bookplate.cli.output import BAD_INPUT, check_text, console, container, fail
from bookplate.cli.tables import table
from bookplate.cli.wiring import code_tables
from bookplate.errors import BookplateError
from bookplate.network.model import IdScope

inst_app = typer.Typer(no_args_is_help=True, help="Institutions of this deployment.")


@inst_app.command("add")
def institution_add(
    code: Annotated[str, typer.Argument(help="Institution code, as Alma's (e.g. 01UNI_INST).")],
    name: Annotated[str, typer.Argument(help="The institution's name, shown to staff.")],
) -> None:
    """Add an institution (with the default code tables and roles)."""
    check_text("the institution code", code)
    check_text("the institution name", name, 1000)
    if any(ch.isspace() for ch in code):
        fail("the institution code must not hold spaces", BAD_INPUT)
    c = container(light=True)
    try:
        if not c.add_institution(code, name):
            fail(f"institution {code} exists")
    finally:
        c.close()
    console().print(f"Institution {code} added.")


@inst_app.command("list")
def institution_list() -> None:
    """List the institutions and where IDs must be unique."""
    c = code_tables()  # on an embedded SQLite file, without SQLAlchemy
    try:
        with c.uow_factory() as uow:
            rows = uow.institutions.list()
            scope = uow.institutions.id_scope()
    finally:
        c.close()
    out = table("code", "name", title=f"Institutions (IDs unique per {scope.value})")
    for inst in rows:
        out.add_row(inst.code, inst.name)
    console().print(out)


@inst_app.command("id-scope")
def institution_id_scope(
    scope: Annotated[
        IdScope,
        typer.Argument(help="network: unique across institutions; institution: within each."),
    ],
) -> None:
    """Make primary IDs and identifiers unique network-wide or per institution."""
    c = container()
    try:
        c.network.set_scope(scope, "cli")
    except BookplateError as exc:
        fail(str(exc))
    finally:
        c.close()
    console().print(f"IDs are now unique per {scope.value}.")
