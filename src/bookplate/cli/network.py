"""``bookplate network``: partners and their linked account rules, what partners may do with
an institution's users, linking and refreshing accounts, the refresh worker, and the ID rule's
clash report (docs/networks.md). Bad input (an unknown institution, partner or user, a bad
setting): one line and exit 2; refusals (already linked, a partner not answering): exit 1
(``output.refuse``); the error's Alma code ends the line."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bookplate.cli import output
from bookplate.cli.network_zone import zone_app
from bookplate.cli.output import bad_input, console, err, fail
from bookplate.cli.tables import table
from bookplate.network.model import IdClash, IdScope, clash_csv_rows

if TYPE_CHECKING:
    from bookplate.bootstrap import Container
    from bookplate.network.model import RefreshReport
    from bookplate.network.pushes import PushReport

network_app = typer.Typer(no_args_is_help=True, help="Fulfillment networks and linked accounts.")
network_app.add_typer(zone_app, name="zone")
WHO = "cli"


def _run(work: Callable[[Container], Any]) -> Any:
    return output.run(work)


def _settings(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            bad_input(f"--set expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value.strip()
    return out


@network_app.command("partner-set")
def partner_set(
    institution: str,
    partner: str,
    set_: Annotated[list[str], typer.Option("--set", help="NAME=VALUE, e.g. user_group=GRAD, "
                                            "expiry=source|fixed|none, purge_days=30, "
                                            "base_url=https://…, api_key=…")] = [],  # noqa: B006 - Typer reads, never mutates
) -> None:
    """Add a partner of INSTITUTION (the home of users it may copy) or change its rule."""
    changes = _settings(set_)
    found = _run(lambda c: c.network.put_partner(institution, partner, changes, WHO))
    console().print(json.dumps(found.public(), indent=2))


@network_app.command("partner-list")
def partner_list(institution: str) -> None:
    """List INSTITUTION's partners and how their users are copied."""
    partners = _run(lambda c: c.network.partners(institution))
    out = table("partner", "where", "user group", "expiry", "purge", "refresh expiry/purge",
                title=f"Partners of {institution}")
    for p in partners:
        purge = p.purge.value + (f" +{p.purge_days}d" if p.purge.value == "after_expiry" else "")
        out.add_row(p.code, p.base_url or "this deployment", p.user_group or "(source's)",
                    p.expiry.value, purge, f"{p.refresh_expiry}/{p.refresh_purge}")
    console().print(out)


@network_app.command("partner-remove")
def partner_remove(institution: str, partner: str) -> None:
    """Remove a partner of INSTITUTION."""
    _run(lambda c: c.network.remove_partner(institution, partner, WHO))
    console().print(f"Partner {partner} removed from {institution}.")


@network_app.command("member-set")
def member_set(
    institution: str,
    searchable: Annotated[list[str], typer.Option(help="identifier types partners may find "
                                                  "users by (repeat)")] = [],  # noqa: B006 - Typer reads, never mutates
    password: Annotated[str | None, typer.Option(help="network search password")] = None,
    clear_password: bool = False,
    share_blocks: Annotated[bool | None, typer.Option("--share-blocks/--no-share-blocks")] = None,
) -> None:
    """What partners may do with INSTITUTION's users."""
    settings = _run(lambda c: c.network.set_member(
        institution, WHO, searchable_id_types=searchable or None, search_password=password,
        clear_password=clear_password, share_blocks=share_blocks))
    console().print(f"{institution}: searchable {', '.join(settings.searchable_id_types)}; "
                  f"password {'set' if settings.search_password_hash else 'none'}; "
                  f"blocks {'shared' if settings.share_blocks else 'not shared'}.")


@network_app.command("link")
def link(institution: str, source_institution: str, source_user_id: str) -> None:
    """Create INSTITUTION's linked account of a partner's user."""
    user = _run(lambda c: c.network.link(institution, source_institution, source_user_id, WHO))
    console().print(f"Linked account {user.primary_id} created in {institution} "
                  f"(linking ID {user.linking_id}).")


@network_app.command("refresh")
def refresh(institution: str, user_id: str) -> None:
    """Refresh one linked account from its source now."""
    _run(lambda c: c.network.refresh(institution, user_id, "all_unique", WHO))
    console().print(f"{user_id} refreshed.")


@network_app.command("process")
def process(
    limit: Annotated[int, typer.Option(min=1, max=10_000,
                                       help="outbox entries and pushes read at a time")] = 500,
    pushes: Annotated[bool, typer.Option("--pushes/--no-pushes",
                                         help="send the pushes owed to copies on other "
                                         "deployments after the outbox pass")] = True,
) -> None:
    """Work the refresh outbox once, now, then send the waiting pushes to copies on other
    deployments (what the background job does). Exit 1 when anything failed."""
    def work(c: Container) -> tuple[RefreshReport, PushReport | None]:
        report = c.network.process_outbox(limit)
        return report, (c.network.deliver_pushes(limit) if pushes else None)

    report, sent = _run(work)
    line = (f"{report.entries} changes: {report.refreshed} copies refreshed, "
            f"{report.unchanged} unchanged, {report.marked} marked, "
            f"{len(report.failed)} failed")
    failed = list(report.failed)
    if sent is not None:
        line += (f"; pushes: {sent.delivered} delivered, {sent.stale} stale, "
                 f"{sent.dropped} dropped, {len(sent.failed)} failed")
        failed += sent.failed
    console().print(line + ".", soft_wrap=True)
    for entry in failed:
        err().print(f"failed: {entry}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@network_app.command("worker")
def worker(concurrency: Annotated[int, typer.Option(min=1, max=16)] = 1) -> None:
    """Run live refresh jobs (PostgreSQL; on SQLite the serving process does them)."""
    c = output.container()
    try:
        queue = c.network_refresh
        run_worker = getattr(queue, "run_worker", None)
        if run_worker is None:
            fail("live refresh runs inside `bookplate serve` on SQLite; "
                 "use `bookplate network process` to work the outbox by hand", 2)
        run_worker(concurrency=concurrency)
    finally:
        c.close()


def _write_clashes(clashes: list[IdClash], report: Path | None) -> None:
    rows = clash_csv_rows(clashes)
    if report is None:
        csv.writer(sys.stdout).writerows(rows)
        return
    try:
        with report.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    except OSError as exc:
        bad_input(f"cannot write the report {report}: {exc.strerror or exc}")


@network_app.command("id-scope")
def id_scope(
    scope: Annotated[IdScope, typer.Argument()],
    check: Annotated[bool, typer.Option(help="only report the clashes")] = False,
    report: Annotated[Path | None, typer.Option(help="write the clashes (CSV) here")] = None,
) -> None:
    """Make IDs unique network-wide or per institution: every stored ID is checked first;
    the clashes are reported as CSV (value, institution, primary_id, id_type) and nothing
    changes while there are any."""
    def work(c: Container) -> list[IdClash]:
        if check:
            return c.network.scope_clashes(scope)
        from bookplate.network.errors import ScopeClashes

        try:
            c.network.set_scope(scope, WHO)
        except ScopeClashes as exc:
            clashes: list[IdClash] = exc.clashes  # type: ignore[assignment]  # the error keeps them untyped
            return clashes
        return []

    clashes = _run(work)
    if clashes:
        _write_clashes(clashes, report)
        fail(f"{len(clashes)} ID values would be held by more than one user; "
             f"{'found' if check else 'the rule was not changed'}"
             + (f" (report: {report})" if report else ""))
    console().print(f"No clashes; IDs {'would be' if check else 'are now'} unique per "
                  f"{scope.value}.")
