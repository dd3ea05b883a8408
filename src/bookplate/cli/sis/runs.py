"""``bookplate sis sync / watch / requeue`` and ``bookplate worker``: running files, at
once or through the job queue."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bookplate.cli.sis.common import (
    EXIT_ABORTED,
    console,
    container,
    err,
    fail,
    refuse,
    resolve,
    sweep,
)
from bookplate.cli.sis.reports import summary_table
from bookplate.errors import BookplateError
from bookplate.sis.model import Mode, Profile, Report

if TYPE_CHECKING:
    from bookplate.bootstrap import Container


#: ``sis.apply.DEFAULT_BATCH``, repeated here so that ``--help`` need not import the SIS
#: writer and the file readers (lxml); tests/unit/test_import_weight.py checks they agree.
DEFAULT_BATCH = 2000


class RunFailed(BookplateError):
    """A run that stopped on an unexpected error (stored as failed with its message)."""


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
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from bookplate.sis.report_out import plan_writer

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
        console=err(),
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
            pending = create_run(
                c, profile, file, mode=mode, dry_run=dry_run, batch_size=batch_size
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
    c = container()
    try:
        prof = resolve(c, profile, institution)
        sweep(c)
        if queue:
            mode = Mode.IMPORT if import_only else Mode.SYNCHRONIZE
            queued = queue_file(c, prof, file, mode=mode, dry_run=dry_run, batch_size=batch_size)
            console().print(f"Run {queued.run_id} queued.")
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
        fail(str(exc), EXIT_ABORTED)
        return
    finally:
        c.close()
    console().print(summary_table(report))
    if report.message:
        err().print(report.message)
    raise typer.Exit(report.exit_code)


def create_run(
    c: Container,
    profile: Profile,
    file: Path,
    *,
    mode: Mode,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    copy: bool = False,
    inbox: Path | None = None,
) -> Report:
    """A pending run of FILE with the profile, by the CLI (``copy``: of a copy in the spool,
    for a queue that another process may work)."""
    return c.sis_jobs.create(
        profile.institution,
        profile.code,
        file,
        mode=mode,
        dry_run=dry_run,
        actor="cli",
        copy=copy,
        batch_size=batch_size,
        inbox=inbox,
    )


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
    pending = create_run(
        c, profile, file, mode=mode, dry_run=dry_run, batch_size=batch_size, copy=True
    )
    return c.sis_jobs.submit(pending)


def handle_inbox_file(c: Container, profile: Profile, path: Path) -> Report:
    """Queue a run of one inbox file and rename it ``.handled`` (Alma's S/FTP behaviour); a
    run that then fails (or the guard aborts) renames it ``.failed``, its reason in
    ``NAME.failed.txt``."""
    handled = path.with_name(path.name + ".handled")
    pending = create_run(c, profile, path, mode=Mode.SYNCHRONIZE, copy=True, inbox=handled)
    # Renamed before the run is queued: an in-process queue may run (and fail) it at once.
    path.rename(handled)
    return c.sis_jobs.submit(pending)


def sis_watch(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    profile: Annotated[str, typer.Option("--profile", "-p")],
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
    interval: Annotated[float, typer.Option(min=0.1)] = 30.0,
    once: Annotated[bool, typer.Option(help="handle what is there, then stop")] = False,
) -> None:
    """Poll DIRECTORY for .zip/.xml/.csv files, queue a run of each, rename it .handled.
    (On SQLite the runs execute in this process, in the background.)"""
    from bookplate.sis.sources.formats import SUFFIXES

    c = container()
    try:
        prof = resolve(c, profile, institution)
        while True:
            sweep(c)
            for path in sorted(directory.iterdir()):
                if path.is_file() and path.suffix.lower() in SUFFIXES:
                    report = handle_inbox_file(c, prof, path)
                    console().print(f"{path.name}: run {report.run_id} queued")
            if once:
                return
            time.sleep(interval)
    finally:
        c.close()


def sis_requeue(
    run_ids: Annotated[list[int] | None, typer.Argument(help="runs to queue again")] = None,
    stalled: Annotated[
        bool, typer.Option(help="every run left pending or running (after a crash)")
    ] = False,
    institution: Annotated[str | None, typer.Option("--institution", "-i")] = None,
) -> None:
    """Queue again runs a crash interrupted; each runs its file again from the start (the
    result is that of one clean run)."""
    if not run_ids and not stalled:  # bad input: refused before the database is opened
        fail("give run ids or --stalled (see: bookplate sis requeue --help)")
    c = container()
    try:
        wanted = list(run_ids or [])
        if stalled:
            wanted += c.sis_jobs.stalled(institution)
        if not wanted:
            console().print("No stalled runs to queue.")
        for run_id in sorted(set(wanted)):
            c.sis_jobs.requeue(run_id)
            console().print(f"Run {run_id} queued.")
    except BookplateError as exc:
        refuse(exc)
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
    c = container()
    try:
        queue = c.worker_queue()
        if queue is None:
            fail(
                "the worker needs PostgreSQL; on SQLite, runs execute in the process that "
                "queues them",
                1,
            )
            return
        queue.stalled_after = stalled_after
        sweep(c)
        err().print(f"worker: {concurrency} at once" + (", burst" if burst else ""))
        queue.run_worker(concurrency=concurrency, wait=not burst)
    finally:
        c.close()
