"""``bookplate db``: apply the migrations, check the schema, rebuild the search columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.output import BAD_INPUT, console, container, err, fail
from bookplate.cli.wiring import settings as get_settings

if TYPE_CHECKING:
    from bookplate.bootstrap import ReindexReport

db_app = typer.Typer(no_args_is_help=True, help="Database schema: upgrade, check, reindex.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    container().close()
    console().print("Schema is at the latest revision.")


@db_app.command("reindex")
def db_reindex(
    batch: Annotated[int, typer.Option(help="Users per transaction.")] = 1000,
    start_after: Annotated[
        int, typer.Option(help="Go on after this user key (the last one a run reported).")
    ] = 0,
) -> None:
    """Rebuild every user's search terms, identifier look-ups and derived columns from the
    stored records (after a field becomes searchable, for example). Safe to rerun."""
    from bookplate.bootstrap import reindex_database

    if not 1 <= batch <= 100_000:
        fail("--batch must be between 1 and 100000", BAD_INPUT)
    if start_after < 0:
        fail("--start-after must be 0 or more", BAD_INPUT)

    def progress(report: ReindexReport) -> None:
        console().print(f"{report.users:,} users reindexed, up to key {report.last_key}")

    report = reindex_database(get_settings().database_url, batch, start_after, progress)
    for key in report.unreadable:
        err().print(f"user key {key}: stored record unreadable, left as it was")
    console().print(f"Reindexed {report.users:,} users (last key {report.last_key}).")
    if report.unreadable:
        fail(f"{len(report.unreadable)} stored records could not be read")


@db_app.command("check")
def db_check() -> None:
    """Fail when the tables in code differ from what the migrations build, or when side
    rows (IDs, identifiers, search terms, SIS fingerprints) have lost their user."""
    from bookplate.bootstrap import check_database

    diffs, orphans = check_database(get_settings().database_url)
    if diffs:
        for d in diffs:
            err().print(d)
        fail("models and migrations differ; write a migration")
    if orphans:
        for table, count in orphans.items():
            err().print(f"{table}: {count} rows whose user is gone")
        fail("side rows without their user; report this as a bug")
    console().print("Models match the migrations; every side row has its user.")
