"""Running a file through a profile: batches of records, each batch one transaction.

Per batch: look the match IDs up (one query, with the fingerprints the last run stored) ->
records whose fingerprint is unchanged for an unmodified user are *unchanged* without being
parsed -> the rest are parsed and mapped -> ``plan_sync`` -> identifier clashes rejected ->
set-based writes of creates, updates, fingerprints and report items -> commit. A crash loses at
most the batch in flight; running the file again converges to the same state because every
committed record is then either unchanged (same fingerprint) or re-planned from the file.

The run's parts live beside it: ``batch`` (chunks, fingerprints, the planned batch),
``id_checks`` (ID clashes, the last administrator), ``writer`` (the writes and the writer
thread), ``missing`` (the guard and the users missing from the file), ``collector`` (the
garbage collector while records stream) and ``report_out`` (the plan and report items).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime

from bookplate.errors import BookplateError
from bookplate.sis import writer
from bookplate.sis.batch import Planned, Screened, batches, fingerprint, reject, where
from bookplate.sis.collector import Collector, fewer_collections
from bookplate.sis.errors import RecordError, SourceError
from bookplate.sis.id_checks import AdminCheck, Administrators, LastAdministrator, check_ids
from bookplate.sis.missing import MissingUsers
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
from bookplate.sis.ports import SisBatch, SisStore
from bookplate.sis.report_out import PlanWriter, report
from bookplate.sis.seen import KeySet, NoPks, PkBits
from bookplate.sis.sources.base import RawRecord, Source, parse_many
from bookplate.users.model import Role, User, id_values, normalise_id

RolesHook = Callable[[User, str], list[Role]]
Progress = Callable[[int, int], None]  # (records done, bytes read)

DEFAULT_BATCH = 2000


def default_roles(user: User, institution: str) -> list[Role]:
    """Roles of a new user when no assignment rules are wired: Patron (200) in the
    institution, active (SPEC section 1.6)."""
    return [Role(role_type="200", scope=institution, status="ACTIVE")]


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
    _admins: LastAdministrator | None = None
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
        if self.administrators is not None:
            self._admins = LastAdministrator(self.is_administrator, self.administrators)
        if self._missing_on():
            self._seen_pks = PkBits()

    # -- the run -----------------------------------------------------------------------

    def run(self, source_name: str) -> Report:
        report = self.report
        report.source = source_name
        report.started = self.clock().isoformat()
        if not self.dry_run:
            report.run_id = self.store.start_run(report)
        missing = MissingUsers(self.store, self.profile, self.today, self.batch_size)
        try:
            if self._needs_guard():
                aborted = missing.guard(self.source, self._key)
                if aborted is not None:
                    report.status, report.message = "aborted", aborted
                    return self._finish()
            with fewer_collections():
                self._main_pass()
            if self._missing_on():
                missing.deactivate(
                    self._seen_pks,
                    report,
                    self.plan_out,
                    self._admins,
                    dry_run=self.dry_run,
                    actor=self.actor,
                    clock=self.clock,
                )
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

    def _needs_guard(self) -> bool:
        return self.mode is Mode.SYNCHRONIZE and (
            self.profile.missing_policy is not MissingPolicy.OFF or self.profile.guard_changes
        )

    # -- main pass ---------------------------------------------------------------------

    def _main_pass(self) -> None:
        """Plan and write batch after batch. On a store that allows it (PostgreSQL, whose work
        runs in its own process) batch N is written and committed by a writer thread while
        this thread reads and plans batch N + 1; a plan that read something batch N writes
        (``Planned.depends_on``) is made again once batch N is committed, so every batch is
        planned against the state the batches before it left, as one after the other."""
        overlap = not self.dry_run and bool(getattr(self.store, "overlap_writes", False))
        collector = Collector()
        with writer.writer_thread(overlap) as pool:
            pending: tuple[Future[None], Planned] | None = None
            for chunk in batches(self.source.records(), self.batch_size):
                collector.read(len(chunk))
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

    def _prepare(self, batch: SisBatch, planned: Planned) -> None:
        """Stamp the batch's writes and build the rows of its new users now, in this thread,
        while the writer thread is still sending the previous batch: the writer is then left
        with the database's part (its Python would otherwise queue behind this thread's for
        the interpreter, and the database would wait for both)."""
        self._stamp(planned.writes())
        planned.prepared = batch.prepare(
            [a.user for a in planned.actions if a.kind is ActionKind.CREATE and a.user]
        )

    def _apply_alone(self, planned: Planned) -> None:
        with self.store.batch() as batch:
            self._apply(batch, planned)

    def _apply(self, batch: SisBatch, planned: Planned) -> None:
        """Write one planned batch, count it and store its report lines: one transaction."""
        actions = planned.actions
        if not self.dry_run:
            if planned.leaving and self._admins is not None:
                # The API's rule (roles.services.RoleRules.check): lock, then read.
                batch.lock_institution(self.profile.institution)
                self._admins.recheck(planned.leaving)
            writer.write(batch, actions, planned.prepared)
        report(self.report, self.plan_out, actions)
        self.report.total += planned.size
        if not self.dry_run:
            writer.items(batch, self.report.run_id, actions)
            created = {"run": self.report.run_id, "profile": self.profile.code}
            writer.audit(
                batch, self.profile.institution, self.actor, self.clock(), created, actions
            )
            batch.update_run(self.report)
            batch.commit()

    def _settle(self, written: Future[None] | None, planned: Planned) -> None:
        """After a batch is committed: its new users are in the file too; progress."""
        if written is not None:
            written.result()
        if not self.dry_run:
            self._seen_pks.update(a.pk for a in planned.actions if a.pk is not None)
        self._done += planned.size
        if self.progress is not None:
            self.progress(self._done, self.source.position())

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

    # -- planning ----------------------------------------------------------------------

    def _screen(self, chunk: list[RawRecord]) -> Screened:
        """What needs no stored data: unreadable records, records without a match ID and
        match IDs met earlier in the file are rejected (once: this remembers the keys)."""
        screened = Screened(len(chunk))
        for index, record in enumerate(chunk):
            if record.error is not None:
                screened.slots[index] = reject(record, f"record {record.number}: {record.error}")
                continue
            if record.match_id is None:
                screened.slots[index] = reject(
                    record, f"the record has no match ID ({self.profile.match_id_type})"
                )
                continue
            screened.met.append(record)
            key = match_key(record.match_id)
            if key in self._seen_keys:
                screened.slots[index] = reject(
                    record, f"match ID {record.match_id} appears earlier in the same file"
                )
                continue
            self._seen_keys.add(key)
            screened.candidates.append(index)
        return screened

    def _plan_batch(self, batch: SisBatch, chunk: list[RawRecord], screened: Screened) -> Planned:
        # Each match ID normalised once (it is looked up, matched and compared several times).
        norm = {r.match_id: normalise_id(r.match_id) for r in chunk if r.match_id}
        found = batch.lookup(
            self.profile.institution, self.profile.match_id_type, list(norm.values())
        )
        slots = list(screened.slots)
        hits = [hit.pk for r in screened.met if (hit := found.get(norm[r.match_id or ""]))]
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
        incoming = self._parse(to_parse)
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
        held, holders = check_ids(batch, self.profile.institution, actions, ids, stored)
        leaving: list[tuple[Action, str]] = []
        if self._admins is not None:
            leaving = self._admins.keep(
                [
                    (a, old)
                    for a in actions
                    if a.kind is ActionKind.UPDATE
                    and a.user is not None
                    and a.pk is not None
                    and (old := stored.get(a.pk)) is not None
                ]
            )
        plan = Planned(actions, hits, len(chunk), leaving=leaving)
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

    def _parse(self, to_parse: list[tuple[RawRecord, str]]) -> list[Incoming]:
        """The records to plan, parsed and mapped; a record that cannot be read becomes an
        incoming record with its error (rejected by the plan). A record that is not
        well-formed fails the run here (SourceError, as iterparse did)."""
        parsed = parse_many(self.source, [record for record, _ in to_parse])
        incoming: list[Incoming] = []
        for (record, fp), result in zip(to_parse, parsed, strict=True):
            user: User | None = None
            error = None
            if isinstance(result, User):
                user = result
            elif isinstance(result, RecordError | BookplateError):
                error = f"{where(record)}{result}"
            elif isinstance(result, ValueError | TypeError | RecursionError):
                error = f"{where(record)}unreadable record: {result}"
            else:  # pragma: no cover - parse_many raises anything else
                raise result
            incoming.append(
                Incoming(
                    record.number, record.match_id, user, error, fp, record.line, record.untouched
                )
            )
        return incoming
