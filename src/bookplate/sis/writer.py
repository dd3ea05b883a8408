"""The writes of a planned batch (set-based, one savepoint; record by record when another
writer got in the way) and the thread that writes batch N while batch N + 1 is planned."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bookplate.sis.batch import turn_reject
from bookplate.sis.model import Action, ActionKind
from bookplate.sis.ports import AuditRow, SisBatch
from bookplate.sis.report_out import item_row
from bookplate.users.errors import DuplicateId, UserNotFound

_AUDIT = {ActionKind.CREATE: "sis.create", ActionKind.UPDATE: "sis.update"}


@contextmanager
def writer_thread(wanted: bool) -> Iterator[ThreadPoolExecutor | None]:
    """One thread that writes and commits the batches a run hands it (``None`` when the run
    writes in its own thread). On leaving, a batch in flight is committed (or fails) first."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="sis-writer") if wanted else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def write(batch: SisBatch, actions: list[Action], prepared: object | None) -> None:
    """The batch's creates, updates and refreshed fingerprints, set-based in one savepoint."""
    writes = [a for a in actions if a.kind in (ActionKind.CREATE, ActionKind.UPDATE)]
    try:
        with batch.savepoint():
            write_set(batch, actions, prepared)
    except (DuplicateId, UserNotFound):
        # Someone else took an ID or removed a user meanwhile: write one record at a time,
        # rejecting the records that meet either.
        for action in writes:
            try:
                with batch.savepoint():
                    write_set(batch, [action])
            except DuplicateId as exc:
                turn_reject(action, str(exc))
            except UserNotFound:
                turn_reject(action, "the user was removed while the run was writing it")
        write_set(batch, [a for a in actions if a.kind is ActionKind.UNCHANGED])


def write_set(batch: SisBatch, actions: Sequence[Action], prepared: object | None = None) -> None:
    creates = [(a.user, a.fingerprint) for a in actions if a.kind is ActionKind.CREATE and a.user]
    updates = [
        (a.pk, a.user, a.fingerprint)
        for a in actions
        if a.kind is ActionKind.UPDATE and a.user is not None and a.pk is not None
    ]
    refresh = [
        (a.pk, a.fingerprint)
        for a in actions
        if a.kind is ActionKind.UNCHANGED and a.user is not None and a.pk is not None
    ]
    # Updates first: an ID one of them drops may be taken by a new user of the batch.
    batch.update(updates)
    pks = batch.create(creates, prepared)
    for pk, action in zip(
        pks, (a for a in actions if a.kind is ActionKind.CREATE and a.user), strict=True
    ):
        action.pk = pk
    batch.set_fingerprints(refresh)


def items(batch: SisBatch, run_id: int | None, actions: list[Action]) -> None:
    """The batch's report items (one per record, numbered by the record)."""
    batch.add_items(run_id or 0, [item_row(a.record_no or 0, a) for a in actions])


def audit(
    batch: SisBatch,
    institution: str,
    actor: str,
    at: datetime,
    detail: dict[str, Any],
    actions: list[Action],
) -> None:
    """A history row per user the batch created or updated, in the batch's transaction.
    ``detail`` (the run and the profile) is the one dict of every create: the store writes
    its JSON once."""
    rows = []
    for action in actions:
        if action.user is None or action.kind not in (ActionKind.CREATE, ActionKind.UPDATE):
            continue
        row_detail = detail
        if action.kind is ActionKind.UPDATE:
            row_detail = {**detail, "fields": sorted(action.diff)}
        rows.append(AuditRow(_AUDIT[action.kind], action.user.primary_id, row_detail))
    batch.audit(institution, actor, at, rows)
