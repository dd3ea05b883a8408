"""A batch of file records on its way through a run: read in chunks, fingerprinted, screened,
planned (``Planned`` keeps what the plan read and what its writes change)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from bookplate.sis.model import Action, ActionKind
from bookplate.sis.sources.base import RawRecord

_T = TypeVar("_T")


def fingerprint(key: bytes, raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16, key=key).hexdigest()


def batches(records: Iterator[_T], size: int) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Screened:
    """A batch after ``Runner._screen``: final actions of the records rejected without
    stored data, the records whose match ID counts (``met``) and those left to plan."""

    size: int
    slots: list[Action | None] = field(init=False)
    met: list[RawRecord] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.slots = [None] * self.size


@dataclass
class Planned:
    """A planned batch, with what its plan read and what its writes change."""

    actions: list[Action]
    hits: list[int]  # stored users found by the batch's match IDs
    size: int
    prepared: object | None = None  # the creates' rows, built ahead (``Runner._prepare``)
    read_norms: set[str] = field(default_factory=set)
    read_pks: set[int] = field(default_factory=set)
    write_norms: set[str] = field(default_factory=set)
    write_pks: set[int] = field(default_factory=set)
    # Updates that take an administrator away, rechecked under the lock when written.
    leaving: list[tuple[Action, str]] = field(default_factory=list)

    def writes(self, *, refresh: bool = False) -> list[Action]:
        """Creates and updates (and, with ``refresh``, unchanged users whose fingerprint is
        written again)."""
        out = []
        for action in self.actions:
            if action.kind in (ActionKind.CREATE, ActionKind.UPDATE) or (
                refresh and action.kind is ActionKind.UNCHANGED and action.user is not None
            ):
                out.append(action)
        return out

    def depends_on(self, earlier: Planned) -> bool:
        """Did this plan read an ID or a user that ``earlier``'s writes change?"""
        return not (
            self.read_norms.isdisjoint(earlier.write_norms)
            and self.read_pks.isdisjoint(earlier.write_pks)
        )


def where(record: RawRecord) -> str:
    where = f"record {record.number}"
    if record.line is not None:
        where += f" (line {record.line})"
    return where + ": "


def reject(record: RawRecord, reason: str) -> Action:
    return Action(ActionKind.REJECT, record.number, record.match_id, reason=reason)


def turn_reject(action: Action, reason: str) -> None:
    action.kind = ActionKind.REJECT
    action.reason = reason
    action.diff = {}
