"""``bookplate sis ...``: users integration profiles, sync/import runs, reports, inbox."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bookplate.cli.wiring import build_container
from bookplate.config import get_settings
from bookplate.errors import BookplateError
from bookplate.sis.apply import cell_text, plan_writer
from bookplate.sis.model import (
    BUCKETS,
    KEEP_MISSING,
    REFUSE_MISSING,
    CsvOptions,
    FieldRule,
    MissingPolicy,
    Mode,
    Profile,
    Report,
)

if TYPE_CHECKING:
    from bookplate.bootstrap import Container

sis_app = typer.Typer(no_args_is_help=True, help="SIS integration: load and sync external users.")
profile_app = typer.Typer(no_args_is_help=True, help="Users integration profiles.")
sis_app.add_typer(profile_app, name="profile")

console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_REJECTED, EXIT_ABORTED = 0, 1, 2


def _container() -> Container:
    return build_container(get_settings(), migrate=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _sweep(c: Container) -> None:
    """Mark interrupted the runs whose owning process is gone (a look at the runs), saying
    so."""
    for run_id in c.sis_jobs.sweep():
        err.print(f"run {run_id}: its process is gone; marked interrupted")


def _resolve(c: Container, code: str, institution: str | None) -> Profile:
    if institution is not None:
        return c.sis.profile(institution, code)
    found = [p for p in c.sis.profiles(None) if p.code == code]
    if not found:
        _fail(f"no users integration profile {code}")
    if len(found) > 1:
        _fail(f"profile {code} exists in several institutions; give --institution")
    return found[0]


def _rules(items: list[str] | None) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        try:
            rules[name.strip()] = FieldRule(value.strip())
        except ValueError:
            _fail(f"bad --rule {item}: use FIELD=keep|replace|erase")
    return rules


def _columns(items: list[str] | None) -> dict[str, str]:
    columns: dict[str, str] = {}
    for item in items or []:
        header, sep, target = item.partition("=")
        if not sep:
            _fail(f"bad --csv-column {item}: use HEADER=target")
        columns[header.strip()] = target.strip()
    return columns


def _missing_columns(value: str | None) -> str | None:
    if value is not None and value not in (REFUSE_MISSING, KEEP_MISSING):
        _fail(f"bad --csv-missing-columns {value}: use {REFUSE_MISSING} or {KEEP_MISSING}")
    return value


RuleOption = Annotated[list[str] | None, typer.Option(help="FIELD=keep|replace|erase (repeatable)")]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(help="HEADER=target for CSV files (repeatable; {COLUMN} as a type: from it)"),
]
MissingColumnsOption = Annotated[
    str | None,
    typer.Option(
        help="a CSV header without a mapped column: refuse the file (default) or keep "
        "those fields as stored"
    ),
]


@profile_app.command("create")
def profile_create(
    code: str,
    institution: Annotated[str, typer.Option("--institution", "-i")],
    record_type: str = "PUBLIC",
    match_id_type: Annotated[str, typer.Option(help="primary_id or an identifier type")] = (
        "primary_id"
    ),
    add_unmatched: Annotated[bool, typer.Option("--add-unmatched/--no-add-unmatched")] = True,
    default_user_group: str | None = None,
    expiry_days: int | None = None,
    purge_days: int | None = None,
    rule: RuleOption = None,
    missing: Annotated[MissingPolicy, typer.Option(help="users absent from a file")] = (
        MissingPolicy.OFF
    ),
    guard_share: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    guard_changes: bool = False,
    csv_column: ColumnOption = None,
    csv_delimiter: str = ",",
    csv_encoding: str = "utf-8-sig",
    csv_multi_separator: str = "",
    csv_missing_columns: MissingColumnsOption = None,
    description: str = "",
    replace: Annotated[
        bool,
        typer.Option(
            help="overwrite an existing profile with exactly these settings (options not "
            "given take their defaults; `sis profile update` changes only what is given)"
        ),
    ] = False,
) -> None:
    """Create (or with --replace, overwrite) a users integration profile."""
    profile = Profile(
        code=code,
        institution=institution,
        record_type=record_type.upper(),
        match_id_type=match_id_type,
        add_unmatched=add_unmatched,
        default_user_group=default_user_group,
        expiry_days=expiry_days,
        purge_days=purge_days,
        field_rules=_rules(rule),
        missing_policy=missing,
        guard_share=guard_share,
        guard_changes=guard_changes,
        description=description,
        csv=CsvOptions(
            _columns(csv_column),
            csv_delimiter,
            csv_encoding,
            "%Y-%m-%d",
            csv_multi_separator,
            _missing_columns(csv_missing_columns) or REFUSE_MISSING,
        ),
    )
    c = _container()
    try:
        if replace and c.sis.store.get_profile(institution, code) is not None:
            c.sis.update_profile(profile)
        else:
            c.sis.create_profile(profile)
    except BookplateError as exc:
        _fail(str(exc), 1)
    finally:
        c.close()
    console.print(f"Profile {code} saved for {institution}.")


@profile_app.command("update")
def profile_update(
    code: str,
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
    record_type: str | None = None,
    match_id_type: Annotated[
        str | None, typer.Option(help="primary_id or an identifier type")
    ] = None,
    add_unmatched: Annotated[
        bool | None, typer.Option("--add-unmatched/--no-add-unmatched")
    ] = None,
    default_user_group: Annotated[
        str | None, typer.Option(help="a user group; '' removes it")
    ] = None,
    expiry_days: Annotated[int | None, typer.Option(help="days; -1 removes the setting")] = None,
    purge_days: Annotated[int | None, typer.Option(help="days; -1 removes the setting")] = None,
    rule: RuleOption = None,
    remove_rule: Annotated[
        list[str] | None, typer.Option(help="FIELD whose rule goes (repeatable)")
    ] = None,
    missing: Annotated[MissingPolicy | None, typer.Option(help="users absent from a file")] = None,
    guard_share: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    guard_changes: Annotated[bool | None, typer.Option("--guard-changes/--no-guard-changes")] = (
        None
    ),
    csv_column: ColumnOption = None,
    remove_csv_column: Annotated[
        list[str] | None, typer.Option(help="HEADER whose mapping goes (repeatable)")
    ] = None,
    csv_delimiter: str | None = None,
    csv_encoding: str | None = None,
    csv_multi_separator: str | None = None,
    csv_missing_columns: MissingColumnsOption = None,
    description: str | None = None,
) -> None:
    """Change only the given settings of a profile; every other setting stays as it is.
    --rule and --csv-column add or change one entry each (the others stay)."""
    c = _container()
    try:
        profile = _resolve(c, code, institution)
        if record_type is not None:
            profile.record_type = record_type.upper()
        if match_id_type is not None:
            profile.match_id_type = match_id_type
        if add_unmatched is not None:
            profile.add_unmatched = add_unmatched
        if default_user_group is not None:
            profile.default_user_group = default_user_group or None
        if expiry_days is not None:
            profile.expiry_days = None if expiry_days == -1 else expiry_days
        if purge_days is not None:
            profile.purge_days = None if purge_days == -1 else purge_days
        for name in remove_rule or []:
            profile.field_rules.pop(name.strip(), None)
        profile.field_rules.update(_rules(rule))
        if missing is not None:
            profile.missing_policy = missing
        if guard_share is not None:
            profile.guard_share = guard_share
        if guard_changes is not None:
            profile.guard_changes = guard_changes
        for header in remove_csv_column or []:
            if profile.csv.columns.pop(header.strip(), None) is None:
                _fail(f"the profile maps no CSV column {header}", 1)
        profile.csv.columns.update(_columns(csv_column))
        if csv_delimiter is not None:
            profile.csv.delimiter = csv_delimiter
        if csv_encoding is not None:
            profile.csv.encoding = csv_encoding
        if csv_multi_separator is not None:
            profile.csv.multi_separator = csv_multi_separator
        value = _missing_columns(csv_missing_columns)
        if value is not None:
            profile.csv.missing_columns = value
        if description is not None:
            profile.description = description
        c.sis.update_profile(profile)
    except BookplateError as exc:
        _fail(str(exc), 1)
        return
    finally:
        c.close()
    console.print(f"Profile {code} updated for {profile.institution}.")


@profile_app.command("list")
def profile_list(
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
) -> None:
    c = _container()
    try:
        profiles = c.sis.profiles(institution)
    finally:
        c.close()
    table = Table("institution", "code", "record type", "match ID", "add unmatched", "missing")
    for p in profiles:
        table.add_row(
            p.institution,
            p.code,
            p.record_type,
            p.match_id_type,
            str(p.add_unmatched),
            p.missing_policy.value,
        )
    console.print(table)


@profile_app.command("show")
def profile_show(
    code: str, institution: Annotated[str | None, typer.Option("--institution", "-i")] = None
) -> None:
    c = _container()
    try:
        profile = _resolve(c, code, institution)
    except BookplateError as exc:
        _fail(str(exc), 1)
        return
    finally:
        c.close()
    print(json.dumps(profile.to_dict(), indent=2))


@profile_app.command("delete")
def profile_delete(
    code: str, institution: Annotated[str | None, typer.Option("--institution", "-i")] = None
) -> None:
    c = _container()
    try:
        profile = _resolve(c, code, institution)
        c.sis.delete_profile(profile.institution, code)
    except BookplateError as exc:
        _fail(str(exc), 1)
    finally:
        c.close()
    console.print(f"Profile {code} deleted.")


class RunFailed(BookplateError):
    """A run that stopped on an unexpected error (stored as failed with its message)."""


def summary_table(report: Report) -> Table:
    title = f"SIS {report.mode.value} with {report.profile}" + (
        " (dry run)" if report.dry_run else ""
    )
    table = Table("", "users", title=title)
    table.add_row("total", str(report.total))
    for bucket in BUCKETS:
        table.add_row(bucket, str(report.counts.get(bucket, 0)))
    table.add_row("status", report.status)
    if report.run_id is not None:
        table.add_row("run", str(report.run_id))
    return table


def run_file(
    c: Container,
    profile: Profile,
    file: Path,
    *,
    mode: Mode,
    dry_run: bool,
    plan_out: Path | None,
    batch_size: int,
    show_progress: bool,
) -> Report:
    size = file.stat().st_size
    handle = plan_out.open("w", encoding="utf-8", newline="") if plan_out else None
    writer = plan_writer(handle, plan_out.name) if handle is not None and plan_out else None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]} users, {task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show_progress,
    )
    started = time.monotonic()
    try:
        with progress:
            task = progress.add_task(file.name, total=size or 1, records=0, rate="-")

            def tick(done: int, position: int) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                progress.update(
                    task,
                    completed=min(position, size),
                    records=done,
                    rate=f"{done / elapsed:,.0f}",
                )

            jobs = c.sis_jobs
            pending = jobs.create(
                profile.institution,
                profile.code,
                file,
                mode=mode,
                dry_run=dry_run,
                actor="cli",
                batch_size=batch_size,
            )
            assert pending.run_id is not None
            try:
                report = jobs.execute(pending.run_id, progress=tick, plan_out=writer)
            except BookplateError:
                raise
            except Exception as exc:  # stored as the run's failure; one line here
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise RunFailed(f"run {pending.run_id} failed: {first}") from exc
            progress.update(task, completed=size or 1)
    finally:
        if handle is not None:
            handle.close()
    return report


@sis_app.command("sync")
def sis_sync(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    profile: Annotated[str, typer.Option("--profile", "-p")],
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
    dry_run: Annotated[bool, typer.Option(help="plan only; write nothing")] = False,
    import_only: Annotated[bool, typer.Option(help="create new users only (Import)")] = False,
    plan_out: Annotated[Path | None, typer.Option(help="write the plan: .jsonl or .csv")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 2000,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    queue: Annotated[
        bool, typer.Option("--queue", help="queue the run for the workers and return")
    ] = False,
) -> None:
    """Synchronize (or --import-only) FILE with a profile. Exit 0 ok, 1 some rejected,
    2 aborted or failed. With --queue: exit 0 once the run is queued."""
    c = _container()
    try:
        prof = _resolve(c, profile, institution)
        _sweep(c)
        if queue:
            mode = Mode.IMPORT if import_only else Mode.SYNCHRONIZE
            queued = queue_file(c, prof, file, mode=mode, dry_run=dry_run, batch_size=batch_size)
            console.print(f"Run {queued.run_id} queued.")
            return
        report = run_file(
            c,
            prof,
            file,
            mode=Mode.IMPORT if import_only else Mode.SYNCHRONIZE,
            dry_run=dry_run,
            plan_out=plan_out,
            batch_size=batch_size,
            show_progress=progress,
        )
    except BookplateError as exc:
        _fail(str(exc), EXIT_ABORTED)
        return
    finally:
        c.close()
    console.print(summary_table(report))
    if report.message:
        err.print(report.message)
    raise typer.Exit(report.exit_code)


@sis_app.command("runs")
def sis_runs(
    institution: Annotated[str, typer.Option("--institution", "-i")],
    profile: str | None = None,
    limit: int = 20,
) -> None:
    c = _container()
    try:
        runs = c.sis_jobs.refresh(c.sis.runs(institution, profile, limit))
    finally:
        c.close()
    table = Table(
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
    console.print(table)


@sis_app.command("report")
def sis_report(
    run_id: int,
    kind: Annotated[str | None, typer.Option(help="one bucket: " + ", ".join(BUCKETS))] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A run's counts and the list of one bucket (or all)."""
    c = _container()
    try:
        (report,) = c.sis_jobs.refresh([c.sis.report(run_id)])
        items = c.sis.items(run_id, kind, offset, limit)
    except BookplateError as exc:
        _fail(str(exc), 1)
        return
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
    console.print(summary_table(report))
    if report.message:
        console.print(report.message)
    table = Table("record", "action", "match ID", "primary ID", "reason / changes")
    for i in items:
        out = i.to_dict()
        what = out["reason"] or ""
        if out["diff"]:
            what = "\n".join(
                f"{name}: {cell_text(old)} -> {cell_text(new)}"
                for name, (old, new) in out["diff"].items()
            )
        table.add_row(str(i.record_no or ""), i.kind, i.match_id or "", i.primary_id or "", what)
    console.print(table)


def queue_file(
    c: Container,
    profile: Profile,
    file: Path,
    *,
    mode: Mode,
    dry_run: bool,
    batch_size: int,
) -> Report:
    """A pending run of a copy of FILE in the spool, handed to the job queue."""
    jobs = c.sis_jobs
    pending = jobs.create(
        profile.institution,
        profile.code,
        file,
        mode=mode,
        dry_run=dry_run,
        actor="cli",
        copy=True,
        batch_size=batch_size,
    )
    return jobs.submit(pending)


def handle_inbox_file(c: Container, profile: Profile, path: Path) -> Report:
    """Queue a run of one inbox file and rename it ``.handled`` (Alma's S/FTP behaviour); a
    run that then fails (or the guard aborts) renames it ``.failed``, its reason in
    ``NAME.failed.txt``."""
    handled = path.with_name(path.name + ".handled")
    jobs = c.sis_jobs
    pending = jobs.create(
        profile.institution,
        profile.code,
        path,
        mode=Mode.SYNCHRONIZE,
        actor="cli",
        copy=True,
        inbox=handled,
    )
    # Renamed before the run is queued: an in-process queue may run (and fail) it at once.
    path.rename(handled)
    return jobs.submit(pending)


@sis_app.command("watch")
def sis_watch(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    profile: Annotated[str, typer.Option("--profile", "-p")],
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
    interval: Annotated[float, typer.Option(min=0.1)] = 30.0,
    once: Annotated[bool, typer.Option(help="handle what is there, then stop")] = False,
) -> None:
    """Poll DIRECTORY for .zip/.xml/.csv files, queue a run of each, rename it .handled.
    (On SQLite the runs execute in this process, in the background.)"""
    c = _container()
    try:
        prof = _resolve(c, profile, institution)
        while True:
            _sweep(c)
            for path in sorted(directory.iterdir()):
                if path.is_file() and path.suffix.lower() in (".zip", ".xml", ".csv"):
                    report = handle_inbox_file(c, prof, path)
                    console.print(f"{path.name}: run {report.run_id} queued")
            if once:
                return
            time.sleep(interval)
    finally:
        c.close()


@sis_app.command("requeue")
def sis_requeue(
    run_ids: Annotated[list[int] | None, typer.Argument(help="runs to queue again")] = None,
    stalled: Annotated[
        bool, typer.Option(help="every run left pending or running (after a crash)")
    ] = False,
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
) -> None:
    """Queue again runs a crash interrupted; each runs its file again from the start (the
    result is that of one clean run)."""
    c = _container()
    try:
        wanted = list(run_ids or [])
        if stalled:
            wanted += c.sis_jobs.stalled(institution)
        if not wanted:
            _fail("give run ids or --stalled", 1)
        for run_id in sorted(set(wanted)):
            c.sis_jobs.requeue(run_id)
            console.print(f"Run {run_id} queued.")
    except BookplateError as exc:
        _fail(str(exc), 1)
    finally:
        c.close()


def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 1,
    burst: Annotated[bool, typer.Option(help="stop when no job is left")] = False,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=1,
            help="seconds without a worker heartbeat after which its jobs are queued again",
        ),
    ] = 30.0,
) -> None:
    """Run a worker for queued jobs (SIS runs) on PostgreSQL; any number may run at once.
    Jobs of workers that died are queued again when a worker starts and every minute."""
    c = _container()
    try:
        queue = c.worker_queue()
        if queue is None:
            _fail(
                "the worker needs PostgreSQL; on SQLite, runs execute in the process that "
                "queues them",
                1,
            )
            return
        queue.stalled_after = stalled_after
        _sweep(c)
        err.print(f"worker: {concurrency} at once" + (", burst" if burst else ""))
        queue.run_worker(concurrency=concurrency, wait=not burst)
    finally:
        c.close()
