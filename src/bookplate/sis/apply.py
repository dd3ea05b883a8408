"""Running a file through a profile: batches of records, each batch one transaction.

Per batch: look the match IDs up (one query, with the fingerprints the last run stored) ->
records whose fingerprint is unchanged for an unmodified user are *unchanged* without being
parsed -> the rest are parsed and mapped -> ``plan_sync`` -> identifier clashes rejected ->
set-based writes of creates, updates, fingerprints and report items -> commit. A crash loses at
most the batch in flight; running the file again converges to the same state because every
committed record is then either unchanged (same fingerprint) or re-planned from the file.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import threading
from collections.abc import Callable, Container, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, TypeVar

from bookplate.errors import BookplateError
from bookplate.sis.errors import RecordError, SourceError
from bookplate.sis.model import (
    Action,
    ActionKind,
    Existing,
    Incoming,
    MissingPolicy,
    Mode,
    Profile,
    Report,
)
from bookplate.sis.plan import Check, match_key, plan_sync
from bookplate.sis.ports import AuditRow, Found, ItemRow, SisBatch, SisStore
from bookplate.sis.seen import KeySet, NoPks, PkBits
from bookplate.sis.sources import RawRecord, Source, parse_many
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import Role, User, id_values, normalise_id

RolesHook = Callable[[User, str], list[Role]]
#: The roles area's view of administrators (``RoleRules``): whether a user is one today, and
#: the normalised primary IDs of the institution's administrators as stored now.
AdminCheck = Callable[[User], bool]
Administrators = Callable[[], set[str]]
LAST_ADMIN = (
    "the institution would be left without an active General System Administrator "
    "(401860); the user is left as it is"
)
Progress = Callable[[int, int], None]  # (records done, bytes read)

DEFAULT_BATCH = 2000
_T = TypeVar("_T")
_AUDIT = {ActionKind.CREATE: "sis.create", ActionKind.UPDATE: "sis.update"}
DEACTIVATE_SEQ = 1 << 30  # report items of deactivations come after every record


def default_roles(user: User, institution: str) -> list[Role]:
    """Roles of a new user when no assignment rules are wired: Patron (200) in the
    institution, active (SPEC section 1.6)."""
    return [Role(role_type="200", scope=institution, status="ACTIVE")]


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


def fingerprint(key: bytes, raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16, key=key).hexdigest()


def _batches(records: Iterator[_T], size: int) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Screened:
    """A batch after ``Runner._screen``: final actions of the records rejected without
    stored data, the records whose match ID counts (``met``) and those left to plan."""

    size: int
    slots: list[Action | None] = field(init=False)
    met: list[RawRecord] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.slots = [None] * self.size


@dataclass
class _Planned:
    """A planned batch, with what its plan read and what its writes change."""

    actions: list[Action]
    hits: list[int]  # stored users found by the batch's match IDs
    size: int
    prepared: object | None = None  # the creates' rows, built ahead (``Runner._prepare``)
    read_norms: set[str] = field(default_factory=set)
    read_pks: set[int] = field(default_factory=set)
    write_norms: set[str] = field(default_factory=set)
    write_pks: set[int] = field(default_factory=set)

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

    def depends_on(self, earlier: _Planned) -> bool:
        """Did this plan read an ID or a user that ``earlier``'s writes change?"""
        return not (
            self.read_norms.isdisjoint(earlier.write_norms)
            and self.read_pks.isdisjoint(earlier.write_pks)
        )


@dataclass
class Runner:
    store: SisStore
    source: Source
    profile: Profile
    mode: Mode
    check: Check
    today: date
    clock: Callable[[], datetime]
    actor: str = "SIS"
    dry_run: bool = False
    roles: RolesHook = default_roles
    progress: Progress | None = None
    plan_out: PlanWriter | None = None
    batch_size: int = DEFAULT_BATCH
    is_administrator: AdminCheck | None = None
    administrators: Administrators | None = None
    report: Report = field(init=False)
    # Administrators this run has taken away (deactivated, expired, role lost), so a later
    # batch, planned before the earlier one is committed, does not count them.
    _left_admins: set[str] = field(default_factory=set)
    # What the run has met: bounded to a few bytes a record (``sis.seen``).
    _seen_keys: KeySet = field(default_factory=KeySet)
    _seen_pks: PkBits = field(default_factory=NoPks)
    _key: bytes = b""
    _done: int = 0  # records whose batch is committed (or planned, in a dry run)

    def __post_init__(self) -> None:
        self._key = self.profile.fingerprint_key() + self.mode.value.encode()
        self.report = Report(
            None, self.profile.code, self.profile.institution, self.mode, self.dry_run
        )
        if self._missing_on():
            self._seen_pks = PkBits()

    # -- the run -----------------------------------------------------------------------

    def run(self, source_name: str) -> Report:
        report = self.report
        report.source = source_name
        report.started = self.clock().isoformat()
        if not self.dry_run:
            report.run_id = self.store.start_run(report)
        try:
            if self._needs_guard() and not self._guard():
                return self._finish()
            with _fewer_collections():
                self._main_pass()
            if self._missing_on():
                self._missing()
            report.status = "done"
        except SourceError as exc:
            report.status = "failed"
            report.message = str(exc)
        return self._finish()

    def _finish(self) -> Report:
        self.report.finished = self.clock().isoformat()
        if not self.dry_run:
            self.store.finish_run(self.report)
        return self.report

    def _missing_on(self) -> bool:
        policy = self.profile.missing_policy
        return self.mode is Mode.SYNCHRONIZE and policy is not MissingPolicy.OFF

    # -- guard -------------------------------------------------------------------------

    def _needs_guard(self) -> bool:
        return self.mode is Mode.SYNCHRONIZE and (
            self.profile.missing_policy is not MissingPolicy.OFF or self.profile.guard_changes
        )

    def _guard(self) -> bool:
        """A read-only pass over the file: how many users would be deactivated (or changed)?
        False (run aborted, nothing written) when that is more than the guard share."""
        profile = self.profile
        existing = self.store.profile_user_count(profile.institution, profile.code)
        if existing == 0:
            return True
        seen = PkBits()
        changed = 0
        with self.store.batch(read_only=True) as batch:
            for chunk in _batches(self.source.records(), self.batch_size * 5):
                found = self._lookup(batch, chunk)
                for record in chunk:
                    hit = found.get(normalise_id(record.match_id)) if record.match_id else None
                    if hit is None:
                        continue
                    seen.add(hit.pk)
                    if hit.fingerprint != fingerprint(self._key, record.raw):
                        changed += 1
        missing = 0
        if profile.missing_policy is not MissingPolicy.OFF:
            missing = sum(1 for _ in self._missing_users(seen))
        touched = missing + (changed if profile.guard_changes else 0)
        share = touched / existing
        if share > profile.guard_share:
            what = (
                "deactivated or expired" if not profile.guard_changes else "deactivated or changed"
            )
            self.report.status = "aborted"
            self.report.message = (
                f"{touched} of the profile's {existing} users ({share:.0%}) would be {what}, "
                f"more than the guard's {profile.guard_share:.0%}; nothing was changed"
            )
            return False
        return True

    # -- main pass ---------------------------------------------------------------------

    def _lookup(self, batch: SisBatch, chunk: Sequence[RawRecord]) -> dict[str, Found]:
        norms = [normalise_id(r.match_id) for r in chunk if r.match_id]
        return batch.lookup(self.profile.institution, self.profile.match_id_type, norms)

    def _main_pass(self) -> None:
        """Plan and write batch after batch. On a store that allows it (PostgreSQL, whose work
        runs in its own process) batch N is written and committed by a writer thread while
        this thread reads and plans batch N + 1; a plan that read something batch N writes
        (``_Planned.depends_on``) is made again once batch N is committed, so every batch is
        planned against the state the batches before it left, as one after the other."""
        overlap = not self.dry_run and bool(getattr(self.store, "overlap_writes", False))
        pool = ThreadPoolExecutor(1, thread_name_prefix="sis-writer") if overlap else None
        pending: tuple[Future[None], _Planned] | None = None
        try:
            uncollected = 0
            for chunk in _batches(self.source.records(), self.batch_size):
                uncollected += len(chunk)
                if uncollected >= COLLECT_EVERY:
                    uncollected = 0
                    gc.collect()  # see _fewer_collections
                screened = self._screen(chunk)
                # A dry run only reads: its batches take no write lock (on SQLite one would
                # keep the plan's report items, stored beside it, waiting).
                with self.store.batch(read_only=self.dry_run) as batch:
                    planned = self._plan_batch(batch, chunk, screened)
                    if pool is not None:
                        self._prepare(batch, planned)
                    if pending is not None:
                        self._settle(*pending)
                        if planned.depends_on(pending[1]):
                            planned = self._plan_batch(batch, chunk, screened)
                            self._prepare(batch, planned)
                        pending = None
                    self._seen_pks.update(planned.hits)
                    if pool is None:
                        if not self.dry_run:
                            self._stamp(planned.writes())
                        self._apply(batch, planned)
                        self._settle(None, planned)
                        continue
                pending = (pool.submit(self._apply_alone, planned), planned)
            if pending is not None:
                self._settle(*pending)
                pending = None
        finally:
            if pool is not None:
                pool.shutdown(wait=True)  # a batch in flight is committed (or fails) first

    def _prepare(self, batch: SisBatch, planned: _Planned) -> None:
        """Stamp the batch's writes and build the rows of its new users now, in this thread,
        while the writer thread is still sending the previous batch: the writer is then left
        with the database's part (its Python would otherwise queue behind this thread's for
        the interpreter, and the database would wait for both)."""
        self._stamp(planned.writes())
        planned.prepared = batch.prepare(
            [a.user for a in planned.actions if a.kind is ActionKind.CREATE and a.user]
        )

    def _apply_alone(self, planned: _Planned) -> None:
        with self.store.batch() as batch:
            self._apply(batch, planned)

    def _apply(self, batch: SisBatch, planned: _Planned) -> None:
        """Write one planned batch, count it and store its report lines: one transaction."""
        actions = planned.actions
        if not self.dry_run:
            self._write(batch, actions, planned.prepared)
        for action in actions:
            self.report.count(action.kind)
            if self.plan_out is not None:
                self.plan_out.write(action)
        self.report.total += planned.size
        if not self.dry_run:
            self._items(batch, actions)
            self._audit(batch, actions)
            batch.update_run(self.report)
            batch.commit()

    def _settle(self, written: Future[None] | None, planned: _Planned) -> None:
        """After a batch is committed: its new users are in the file too; progress."""
        if written is not None:
            written.result()
        if not self.dry_run:
            self._seen_pks.update(a.pk for a in planned.actions if a.pk is not None)
        self._done += planned.size
        if self.progress is not None:
            self.progress(self._done, self.source.position())

    def _screen(self, chunk: list[RawRecord]) -> _Screened:
        """What needs no stored data: unreadable records, records without a match ID and
        match IDs met earlier in the file are rejected (once: this remembers the keys)."""
        screened = _Screened(len(chunk))
        for index, record in enumerate(chunk):
            if record.error is not None:
                screened.slots[index] = _reject(record, f"record {record.number}: {record.error}")
                continue
            if record.match_id is None:
                screened.slots[index] = _reject(
                    record, f"the record has no match ID ({self.profile.match_id_type})"
                )
                continue
            screened.met.append(record)
            key = match_key(record.match_id)
            if key in self._seen_keys:
                screened.slots[index] = _reject(
                    record, f"match ID {record.match_id} appears earlier in the same file"
                )
                continue
            self._seen_keys.add(key)
            screened.candidates.append(index)
        return screened

    def _plan_batch(self, batch: SisBatch, chunk: list[RawRecord], screened: _Screened) -> _Planned:
        # Each match ID normalised once (it is looked up, matched and compared several times).
        norm = {r.match_id: normalise_id(r.match_id) for r in chunk if r.match_id}
        found = batch.lookup(
            self.profile.institution, self.profile.match_id_type, list(norm.values())
        )
        slots = list(screened.slots)
        hits = [hit.pk for r in screened.met if (hit := found.get(norm[r.match_id or ""]))]
        incoming: list[Incoming] = []
        to_plan: list[int] = []
        to_parse: list[tuple[RawRecord, str]] = []
        for index in screened.candidates:
            record = chunk[index]
            fp = fingerprint(self._key, record.raw)
            hit = found.get(norm[record.match_id or ""])
            if hit is not None and hit.fingerprint == fp:
                slots[index] = Action(
                    ActionKind.UNCHANGED, record.number, record.match_id, hit.primary_id, pk=hit.pk
                )
                continue
            to_parse.append((record, fp))
            to_plan.append(index)
        # A record that is not well-formed fails the run here (SourceError, as iterparse did).
        parsed = parse_many(self.source, [record for record, _ in to_parse])
        for (record, fp), result in zip(to_parse, parsed, strict=True):
            user: User | None = None
            error = None
            if isinstance(result, User):
                user = result
            elif isinstance(result, RecordError | BookplateError):
                error = f"{_where(record)}{result}"
            elif isinstance(result, ValueError | TypeError | RecursionError):
                error = f"{_where(record)}unreadable record: {result}"
            else:  # pragma: no cover - parse_many raises anything else
                raise result
            incoming.append(
                Incoming(
                    record.number, record.match_id, user, error, fp, record.line, record.untouched
                )
            )
        wanted = {
            norm[i.match_id]: found[norm[i.match_id]].pk
            for i in incoming
            if i.match_id and norm[i.match_id] in found
        }
        stored = batch.load(sorted(set(wanted.values()))) if wanted else {}
        existing = {norm: Existing(pk, stored[pk]) for norm, pk in wanted.items() if pk in stored}
        planned = plan_sync(
            incoming, existing, self.profile, mode=self.mode, today=self.today, check=self.check
        )
        for index, action in zip(to_plan, planned, strict=True):
            slots[index] = action
        actions = [a for a in slots if a is not None]
        ids = {id(a): id_values(a.user) for a in actions if a.user is not None}
        held, holders = self._check_ids(batch, actions, ids, stored)
        self._keep_administrator(
            [
                (a, old)
                for a in actions
                if a.kind is ActionKind.UPDATE
                and a.user is not None
                and a.pk is not None
                and (old := stored.get(a.pk)) is not None
            ]
        )
        plan = _Planned(actions, hits, len(chunk))
        plan.read_norms = set(norm.values()) | held
        plan.read_pks = {f.pk for f in found.values()} | holders
        for action in plan.writes(refresh=True):
            if action.pk is not None:
                plan.write_pks.add(action.pk)
            if action.user is not None and action.kind is not ActionKind.UNCHANGED:
                plan.write_norms.update(ids[id(action)])
            old = stored.get(action.pk) if action.pk is not None else None
            if old is not None:
                plan.write_norms.update(id_values(old))
        return plan

    def _check_ids(
        self,
        batch: SisBatch,
        actions: list[Action],
        ids: dict[int, list[str]],
        stored: dict[int, User],
    ) -> tuple[set[str], set[int]]:
        """Reject records whose IDs clash with another record of the batch or a stored user
        (SPEC section 4.3: a clash rejects that record, the rest go on). Returns what it read:
        the IDs of the batch's writes and the users holding them.

        An ID that the updated user's stored record holds already is not asked for: IDs are
        unique, so its holder is that user (most updates keep every ID). Were it taken away
        meanwhile, the write would meet the unique key and reject the record then."""
        writing = [a for a in actions if a.kind in (ActionKind.CREATE, ActionKind.UPDATE)]
        if not writing:
            return set(), set()
        owner: dict[str, Action] = {}
        for action in writing:
            assert action.user is not None
            for norm in ids[id(action)]:
                other = owner.get(norm)
                if other is not None and other is not action:
                    _turn_reject(
                        action, f"ID {norm} is also in record {other.record_no} of this file"
                    )
                    break
            else:
                for norm in ids[id(action)]:
                    owner[norm] = action
        kept = {
            norm
            for action in writing
            if action.pk is not None and (old := stored.get(action.pk)) is not None
            for norm in id_values(old)
            if (first := owner.get(norm)) is not None and first.pk == action.pk
        }
        asked = [norm for norm in owner if norm not in kept]
        holders = batch.id_holders(self.profile.institution, asked) if asked else {}
        # The batch's updates by stored user, with their place in the file: an ID a user's
        # update drops is free for the records after it (as when records go one by one).
        updating = {
            a.pk: (place, a) for place, a in enumerate(writing) if a.kind is ActionKind.UPDATE
        }
        for place, action in enumerate(writing):
            if action.kind is ActionKind.REJECT or action.user is None:
                continue
            for norm in ids[id(action)]:
                holder = holders.get(norm)
                if holder is not None and holder.pk != action.pk:
                    earlier = updating.get(holder.pk)
                    if (
                        earlier is not None
                        and earlier[0] < place
                        and earlier[1].kind is ActionKind.UPDATE
                        and norm not in ids[id(earlier[1])]
                    ):
                        continue  # dropped by an earlier record of this batch
                    _turn_reject(
                        action,
                        f"ID {norm} ({holder.id_type}) is already held by user {holder.primary_id}",
                    )
                    break
        return set(owner), {h.pk for h in holders.values()}

    def _keep_administrator(self, updates: list[tuple[Action, User]]) -> None:
        """Reject the updates that would leave the institution without an administrator
        (issue 13: the SIS may not do what the API refuses with 401860). Updates go in file
        order; the one that would take the last administrator away is rejected."""
        if self.is_administrator is None or self.administrators is None:
            return
        admin = self.is_administrator
        leaving = [
            (a, normalise_id(old.primary_id))
            for a, old in updates
            if admin(old) and a.user is not None and not admin(a.user)
        ]
        if not leaving:
            return
        refused = self._spare_administrators([norm for _, norm in leaving])
        for action, norm in leaving:
            if norm in refused:
                _turn_reject(action, LAST_ADMIN)

    def _spare_administrators(self, leaving: list[str]) -> set[str]:
        """Of the administrators (normalised primary IDs) this run would take away, in order,
        those it must leave as they are so that one remains; the others count as gone."""
        assert self.administrators is not None
        remaining = self.administrators() - self._left_admins
        refused: set[str] = set()
        for norm in leaving:
            if norm not in remaining:
                continue  # not an administrator as stored, or already counted as gone
            if remaining - {norm}:
                remaining.discard(norm)
                self._left_admins.add(norm)
            else:
                refused.add(norm)
        return refused

    # -- writes ------------------------------------------------------------------------

    def _stamp(self, actions: list[Action]) -> None:
        now = self.clock()
        for action in actions:
            user = action.user
            if user is None:
                continue
            if action.kind is ActionKind.CREATE:
                user.created_by = self.actor
                user.created_date = now
                user.roles = self.roles(user, self.profile.institution)
            user.last_modified_by = self.actor
            user.last_modified_date = now

    def _write(self, batch: SisBatch, actions: list[Action], prepared: object | None) -> None:
        writes = [a for a in actions if a.kind in (ActionKind.CREATE, ActionKind.UPDATE)]
        try:
            with batch.savepoint():
                self._write_set(batch, actions, prepared)
        except (DuplicateId, UserNotFound):
            # Someone else took an ID or removed a user meanwhile: write one record at a time,
            # rejecting the records that meet either.
            for action in writes:
                try:
                    with batch.savepoint():
                        self._write_set(batch, [action])
                except DuplicateId as exc:
                    _turn_reject(action, str(exc))
                except UserNotFound:
                    _turn_reject(action, "the user was removed while the run was writing it")
            self._write_set(batch, [a for a in actions if a.kind is ActionKind.UNCHANGED])

    def _write_set(
        self, batch: SisBatch, actions: Sequence[Action], prepared: object | None = None
    ) -> None:
        creates = [
            (a.user, a.fingerprint) for a in actions if a.kind is ActionKind.CREATE and a.user
        ]
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

    def _items(self, batch: SisBatch, actions: list[Action]) -> None:
        rows = []
        for action in actions:
            detail: str | None = action.reason or None
            if action.kind is ActionKind.UPDATE and action.diff:
                detail = json.dumps(action.diff, ensure_ascii=False, default=str)
            rows.append(
                ItemRow(
                    action.record_no or 0,
                    action.kind.value,
                    action.record_no,
                    action.match_id,
                    action.primary_id,
                    detail,
                )
            )
        batch.add_items(self.report.run_id or 0, rows)

    def _audit(self, batch: SisBatch, actions: list[Action]) -> None:
        """A history row per user the batch created or updated, in the batch's transaction."""
        rows = []
        # One detail for every create (the same dict: the store writes its JSON once).
        created: dict[str, object] = {"run": self.report.run_id, "profile": self.profile.code}
        for action in actions:
            if action.user is None or action.kind not in (ActionKind.CREATE, ActionKind.UPDATE):
                continue
            detail = created
            if action.kind is ActionKind.UPDATE:
                detail = {**created, "fields": sorted(action.diff)}
            rows.append(AuditRow(_AUDIT[action.kind], action.user.primary_id, detail))
        batch.audit(self.profile.institution, self.actor, self.clock(), rows)

    # -- users missing from the file ---------------------------------------------------

    def _missing_users(self, seen: Container[int]) -> Iterator[tuple[int, str]]:
        expire = self.today if self.profile.missing_policy is MissingPolicy.EXPIRE else None
        return self.store.missing_users(
            self.profile.institution,
            self.profile.code,
            seen,
            active_only=expire is None,
            expire_on=expire,
        )

    def _missing(self) -> None:
        expire = self.today if self.profile.missing_policy is MissingPolicy.EXPIRE else None
        seq = DEACTIVATE_SEQ
        # Streamed page by page: neither the candidates nor the run's lists are held.
        for page in _batches(self._missing_users(self._seen_pks), self.batch_size):
            part, spared = page, []
            if self.administrators is not None:
                # The last administrator is left as it is and reported as rejected.
                stored_admins = self.administrators()
                refused = self._spare_administrators(
                    [n for _, pid in page if (n := normalise_id(pid)) in stored_admins]
                )
                spared = [(pk, pid) for pk, pid in page if normalise_id(pid) in refused]
                part = [(pk, pid) for pk, pid in page if normalise_id(pid) not in refused]
            kept = [
                Action(ActionKind.REJECT, None, None, primary_id, pk=pk, reason=LAST_ADMIN)
                for pk, primary_id in spared
            ]
            for action in kept:
                self.report.count(ActionKind.REJECT)
                if self.plan_out is not None:
                    self.plan_out.write(action)
            actions = [
                Action(
                    ActionKind.DEACTIVATE,
                    None,
                    None,
                    primary_id,
                    pk=pk,
                    reason="expired: not in the file" if expire else "deactivated: not in the file",
                )
                for pk, primary_id in part
            ]
            for action in actions:
                self.report.count(ActionKind.DEACTIVATE)
                if self.plan_out is not None:
                    self.plan_out.write(action)
            if self.dry_run:
                continue
            if part:
                self.store.deactivate(
                    [pk for pk, _ in part],
                    expire_on=expire,
                    actor=self.actor,
                    now=self.clock(),
                    run_id=self.report.run_id,
                )
            with self.store.batch() as batch:
                batch.add_items(
                    self.report.run_id or 0,
                    [
                        ItemRow(seq + i, a.kind.value, None, None, a.primary_id, a.reason)
                        for i, a in enumerate(kept + actions)
                    ],
                )
                batch.update_run(self.report)
                batch.commit()
            seq += len(kept) + len(actions)


_GC_LOCK = threading.Lock()
_GC_RUNS: list[bool] = []  # per run going on: whether the collector was on when it started
# A run that keeps the automatic collector off collects all generations itself after about
# this many records (in ``Runner._main_pass``): garbage in reference cycles, rare here (none
# in a PostgreSQL initial sync of 20,000 users, under a thousand objects a run on SQLite), and
# other threads' garbage meanwhile, stays bounded.
COLLECT_EVERY = 100_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Keep the garbage collector's automatic runs off while records stream through (the
    run collects every ``COLLECT_EVERY`` records itself). A batch allocates hundreds of
    thousands of short-lived objects (parsed users, rows); an automatic collection every
    50,000 allocations, as before, walked the objects of the batches still in use each time,
    about a ninth of the Python time of an initial sync (docs/benchmarks.md). Process-wide
    while a run lasts; when the last of the runs going at once (a worker may run several)
    ends, the collector is on again if it was on before the first."""
    with _GC_LOCK:
        _GC_RUNS.append(gc.isenabled())
        gc.disable()
    try:
        yield
    finally:
        with _GC_LOCK:
            was_on = _GC_RUNS[0]
            _GC_RUNS.pop()
            if not _GC_RUNS and was_on:
                gc.enable()


def _where(record: RawRecord) -> str:
    where = f"record {record.number}"
    if record.line is not None:
        where += f" (line {record.line})"
    return where + ": "


def _reject(record: RawRecord, reason: str) -> Action:
    return Action(ActionKind.REJECT, record.number, record.match_id, reason=reason)


def _turn_reject(action: Action, reason: str) -> None:
    action.kind = ActionKind.REJECT
    action.reason = reason
    action.diff = {}


def plan_writer(stream: IO[str], name: str) -> PlanWriter:
    return PlanWriter(stream, "csv" if name.lower().endswith(".csv") else "jsonl")
