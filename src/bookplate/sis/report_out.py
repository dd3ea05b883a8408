"""What a run reports, record by record: the plan written out (``--plan-out``: JSON lines or
CSV) and the report items stored with the run (``sis_run_items``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import IO

from bookplate.sis.model import Action, ActionKind, Report
from bookplate.sis.ports import ItemRow, SisStore

DEACTIVATE_SEQ = 1 << 30  # report items of deactivations come after every record


class PlanWriter:
    """The plan as JSON lines (``.jsonl``: the diff as an object) or CSV (``.csv``: one row
    per changed field of an update, with the field, its old and its new value as text)."""

    CSV_COLUMNS = ("action", "record", "match_id", "primary_id", "reason", "field", "old", "new")

    def __init__(self, stream: IO[str], kind: str) -> None:
        self.stream = stream
        self.kind = kind
        self._csv = csv.writer(stream) if kind == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self.CSV_COLUMNS)

    def write(self, action: Action) -> None:
        data = action.to_dict()
        if self._csv is None:
            self.stream.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
            return
        head = [
            data["action"],
            data["record"] or "",
            data["match_id"] or "",
            data["primary_id"] or "",
            data.get("reason", ""),
        ]
        if not action.diff:
            self._csv.writerow([*head, "", "", ""])
            return
        for name, (old, new) in action.diff.items():
            self._csv.writerow([*head, name, cell_text(old), cell_text(new)])


def plan_writer(stream: IO[str], name: str) -> PlanWriter:
    return PlanWriter(stream, "csv" if name.lower().endswith(".csv") else "jsonl")


def cell_text(value: object) -> str:
    """A diff value as plain text: an entry as ``key=value`` pairs, a list's entries joined
    by `` | ``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={cell_text(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def report(target: Report, plan_out: PlanWriter | None, actions: Sequence[Action]) -> None:
    """Count each action in the run's report and pass it on to the plan's writer."""
    for action in actions:
        target.count(action.kind)
        if plan_out is not None:
            plan_out.write(action)


def item_detail(action: Action) -> str | None:
    """What a report item keeps beside the action: an update's diff (JSON text), else the
    reason."""
    if action.kind is ActionKind.UPDATE and action.diff:
        return json.dumps(action.diff, ensure_ascii=False, default=str)
    return action.reason or None


def item_row(seq: int, action: Action) -> ItemRow:
    return ItemRow(
        seq, action.kind.value, action.record_no, action.match_id, action.primary_id,
        item_detail(action),
    )


class ItemWriter(PlanWriter):
    """Stores the plan of a dry run as the run's report items (in chunks), passing each
    action on to an export writer when there is one."""

    CHUNK = 1000

    def __init__(self, store: SisStore, run: Report, inner: PlanWriter | None) -> None:
        # No stream of its own: ``write`` is overridden.
        self.store = store
        self.run = run
        self.run_id = run.run_id or 0
        self.inner = inner
        self.rows: list[ItemRow] = []
        self.seq = 0
        self.deactivations = 0

    def write(self, action: Action) -> None:
        if self.inner is not None:
            self.inner.write(action)
        if action.kind is ActionKind.DEACTIVATE:
            seq = DEACTIVATE_SEQ + self.deactivations
            self.deactivations += 1
        else:
            self.seq += 1
            seq = self.seq
        self.rows.append(item_row(seq, action))
        if len(self.rows) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with self.store.batch() as batch:
            # The run's row first: it opens the transaction the items are copied in.
            batch.update_run(self.run)
            batch.add_items(self.run_id, self.rows)
            batch.commit()
        self.rows = []
