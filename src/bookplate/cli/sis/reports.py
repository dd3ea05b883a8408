"""``bookplate sis runs / report``: the runs and their report lists."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli import tables
from bookplate.cli.sis.common import console, container, refuse
from bookplate.errors import BookplateError
from bookplate.sis.model import BUCKETS, Report
from bookplate.sis.report_out import cell_text

if TYPE_CHECKING:
    from rich.table import Table


def summary_table(report: Report) -> Table:
    title = f"SIS {report.mode.value} with {report.profile}" + (
        " (dry run)" if report.dry_run else ""
    )
    table = tables.table("", "users", title=title)
    table.add_row("total", str(report.total))
    for bucket in BUCKETS:
        table.add_row(bucket, str(report.counts.get(bucket, 0)))
    table.add_row("status", report.status)
    if report.run_id is not None:
        table.add_row("run", str(report.run_id))
    return table


def sis_runs(
    institution: Annotated[str, typer.Option("--institution", "-i")],
    profile: str | None = None,
    limit: int = 20,
) -> None:
    """List an institution's latest SIS runs, newest first."""
    c = container()
    try:
        runs = c.sis_jobs.refresh(c.sis.runs(institution, profile, limit))
    finally:
        c.close()
    table = tables.table(
        "run", "profile", "mode", "dry run", "status", "total", *BUCKETS, "started", "message"
    )
    for r in runs:
        table.add_row(
            str(r.run_id),
            r.profile,
            r.mode.value,
            "yes" if r.dry_run else "",
            r.status,
            str(r.total),
            *(str(r.counts.get(b, 0)) for b in BUCKETS),
            r.started,
            r.message,  # why a run failed, was aborted or interrupted
        )
    console().print(table)


def sis_report(
    run_id: int,
    kind: Annotated[str | None, typer.Option(help="one bucket: " + ", ".join(BUCKETS))] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A run's counts and the list of one bucket (or all)."""
    c = container()
    try:
        (report,) = c.sis_jobs.refresh([c.sis.report(run_id)])
        items = c.sis.items(run_id, kind, offset, limit)
    except BookplateError as exc:
        refuse(exc)
    finally:
        c.close()
    if as_json:
        print(
            json.dumps(
                {
                    **report.to_dict(),
                    "items": [i.to_dict() for i in items],
                },
                indent=2,
            )
        )
        return
    console().print(summary_table(report))
    if report.message:
        console().print(report.message)
    table = tables.table("record", "action", "match ID", "primary ID", "reason / changes")
    for i in items:
        out = i.to_dict()
        what = out["reason"] or ""
        if out["diff"]:
            what = "\n".join(
                f"{name}: {cell_text(old)} -> {cell_text(new)}"
                for name, (old, new) in out["diff"].items()
            )
        table.add_row(str(i.record_no or ""), i.kind, i.match_id or "", i.primary_id or "", what)
    console().print(table)
