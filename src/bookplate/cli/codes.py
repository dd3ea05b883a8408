"""``bookplate codes``: an institution's code tables. Changes go through the audited
service of the administration pages (``CodeTablesAdmin``), so they land in the history as
the pages' do, and a bad code changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bookplate.cli.output import (
    BAD_INPUT,
    check_text,
    console,
    fail,
    known_institution,
    run,
    run_codes,
)
from bookplate.cli.tables import table

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.bootstrap.light import CodeTablesOnly
    from bookplate.users.ports import CodeRow

T = TypeVar("T")
WHO = "cli"
RECORD_TYPES = ("PUBLIC", "STAFF", "CONTACT")

codes_app = typer.Typer(no_args_is_help=True, help="Code tables: list, set, remove, group.")

Institution = Annotated[str, typer.Argument(help="Institution code.", show_default=False)]
TableName = Annotated[
    str, typer.Argument(help="Code table, e.g. UserGroups (see: bookplate codes tables).")
]


def _known(c: CodeTablesOnly, institution: str, table_name: str | None = None) -> None:
    """Exit 2 with one line when the institution (or its table) does not exist."""
    known_institution(c, institution)
    if table_name is None:
        return
    check_text("the table name", table_name)
    with c.uow_factory() as uow:
        found = table_name in uow.codes.table_names(institution)
    if not found:
        fail(f"no code table {table_name}; see bookplate codes tables {institution}", BAD_INPUT)


def _on_table(
    institution: str, table_name: str | None, work: Callable[[CodeTablesOnly], T]
) -> T:
    """``work(code tables)`` once the institution (and the table) are known to exist; a
    Bookplate error ends the command with one line (``output.refuse``). On an embedded
    SQLite file these commands do without SQLAlchemy (``wiring.code_tables``)."""

    def checked(c: CodeTablesOnly) -> T:
        _known(c, institution, table_name)
        return work(c)

    return run_codes(checked)


@codes_app.command("tables")
def codes_tables(institution: Institution) -> None:
    """List an institution's code tables with how many codes each holds."""

    def counts(c: CodeTablesOnly) -> list[tuple[str, int]]:
        with c.uow_factory() as uow:
            return [
                (name, len(uow.codes.rows(institution, name)))
                for name in sorted(uow.codes.table_names(institution))
            ]

    out = table("table", "codes", title=f"Code tables of {institution}")
    for name, count in _on_table(institution, None, counts):
        out.add_row(name, str(count))
    console().print(out)


@codes_app.command("standard")
def codes_standard(institution: Institution) -> None:
    """Add every ISO 3166-1 country (alpha-3) and ISO 639-1 language an institution lacks
    (codes already there, and their descriptions, are kept)."""
    def add(c: Container) -> dict[str, int] | None:
        known_institution(c, institution)
        return c.add_standard_codes(institution)

    added = run(add, light=True) or {}
    for name in ("CountryCodes", "UserPreferredLanguage"):
        console().print(f"{name}: {added.get(name, 0)} codes added.")


@codes_app.command("list")
def codes_list(institution: Institution, table_name: TableName) -> None:
    """List one code table's codes."""

    def rows(c: CodeTablesOnly) -> list[CodeRow]:
        with c.uow_factory() as uow:
            return uow.codes.rows(institution, table_name)

    out = table("code", "description", "enabled", "default", title=table_name)
    for r in _on_table(institution, table_name, rows):
        out.add_row(r.code, r.description, "yes" if r.enabled else "no",
                    "yes" if r.default else "")
    console().print(out)


@codes_app.command("set")
def codes_set(
    institution: Institution,
    table_name: TableName,
    pairs: Annotated[
        list[str] | None,
        typer.Argument(help="CODE DESCRIPTION, as many pairs as wanted.", show_default=False),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="A CSV file of code,description[,enabled][,default] rows (no header).",
        ),
    ] = None,
    enabled: Annotated[
        bool, typer.Option("--enabled/--disabled", help="Whether the pairs' codes are enabled.")
    ] = True,
    default: Annotated[
        bool, typer.Option(help="Make the (one) pair's code the table's default.")
    ] = False,
) -> None:
    """Add or change codes: one or more CODE DESCRIPTION pairs, or --file; all in one
    transaction (a bad row changes nothing), each recorded in the history."""
    from bookplate.cli.code_file import read_code_file
    from bookplate.users.ports import CodeRow

    items = list(pairs or [])
    if len(items) % 2:
        fail("give codes as CODE DESCRIPTION pairs", BAD_INPUT)
    rows = [CodeRow(items[i], items[i + 1], enabled, default) for i in range(0, len(items), 2)]
    if from_file is not None:
        rows += read_code_file(from_file)
    if not rows:
        fail("give CODE DESCRIPTION pairs or --file", BAD_INPUT)
    for n, row in enumerate(rows, 1):
        if "\x00" in row.code or "\x00" in row.description:
            fail(f"code {n}: holds a NUL character", BAD_INPUT)
    count = _on_table(institution, table_name,
                      lambda c: c.code_tables.put_many(None, WHO, institution, table_name, rows))
    names = ", ".join(r.code.strip() for r in rows[:5]) + (" …" if len(rows) > 5 else "")
    console().print(f"{table_name}: {count} code(s) set ({names}).")


@codes_app.command("remove")
def codes_remove(
    institution: Institution,
    table_name: TableName,
    code: Annotated[str, typer.Argument(help="The code to remove.")],
) -> None:
    """Remove a code from a table (stored records that hold it keep it)."""
    check_text("the code", code)
    done = _on_table(institution, table_name,
                     lambda c: c.code_tables.remove(None, WHO, institution, table_name, code))
    if not done:
        fail(f"{table_name} has no code {code}", BAD_INPUT)
    console().print(f"{table_name}: {code} removed.")


@codes_app.command("group")
def codes_group(
    institution: Institution,
    user_group: Annotated[str, typer.Argument(help="A code of the UserGroups table.")],
    record_type: Annotated[
        list[str], typer.Option(help="PUBLIC, STAFF or CONTACT (repeatable).")
    ],
) -> None:
    """Enable a user group for the given record types (and no others)."""
    check_text("the user group", user_group)
    chosen = frozenset(r.strip().upper() for r in record_type)
    if not chosen <= set(RECORD_TYPES):
        fail(f"record types must be among {', '.join(RECORD_TYPES)}", BAD_INPUT)
    _on_table(institution, None,
              lambda c: c.code_tables.set_group_types(None, WHO, institution, user_group, chosen))
    console().print(f"{user_group}: enabled for {', '.join(sorted(chosen))}.")

