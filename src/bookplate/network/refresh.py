"""Live refresh: the outbox of changed source users worked into their copies in this
deployment (see docs/networks.md)."""

from __future__ import annotations

import time
from typing import Any

import structlog

from bookplate.errors import InputError
from bookplate.network.base import LIVE_ACTOR
from bookplate.network.errors import RefreshFailed
from bookplate.network.linking import Linking
from bookplate.network.model import (
    OutboxEntry,
    OutboxKind,
    Partner,
    RefreshReport,
    marked_gone,
    refreshed_copy,
    same_content,
)
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.network.zone import ZoneManagement
from bookplate.users.model import User

log = structlog.get_logger("bookplate.network")

#: How many source users one transaction of the outbox pass refreshes at most.
GROUP = 200
#: Passes in a row that found every waiting user locked by another transaction before
#: ``process_outbox`` leaves them to it (or to the next pass), and the pause between them.
IDLE_PASSES = 20
IDLE_PAUSE_SECONDS = 0.05


def _add(report: RefreshReport, part: RefreshReport) -> None:
    report.entries += part.entries
    report.refreshed += part.refreshed
    report.unchanged += part.unchanged
    report.marked += part.marked


class _Settings:
    """The partner entries and member settings one transaction reads, each once."""

    def __init__(self, uow: NetworkUnitOfWork) -> None:
        self._uow = uow
        self._partners: dict[tuple[str, str], Partner | None] = {}
        self._share: dict[str, bool] = {}

    def partner(self, host: str, home: str) -> Partner | None:
        if (host, home) not in self._partners:
            self._partners[host, home] = self._uow.network.partner(host, home)
        return self._partners[host, home]

    def share_blocks(self, home: str) -> bool:
        if home not in self._share:
            self._share[home] = self._uow.network.member(home).share_blocks
        return self._share[home]


class _Writes:
    """What one group's refresh writes: the copies (stored, new) and their history lines."""

    def __init__(self) -> None:
        self.copies: list[tuple[User, User]] = []
        self.history: list[tuple[str, str | None, str, str, dict[str, Any] | None]] = []


class OutboxRefresh(Linking, ZoneManagement):
    def waiting(self) -> int:
        with self._uow_factory() as uow:
            return uow.network.waiting()

    def process_outbox(self, limit: int = 500, *, max_passes: int = 1_000,
                       group: int = GROUP) -> RefreshReport:
        """Bring the copies of every changed source user up to date, oldest change first.

        A group of up to ``group`` source users is one transaction: the users' locks are
        taken (those another transaction holds are left for a later pass), their waiting
        entries read, their copies written from the sources' *current* records — all of it
        set-based, a few statements for the group — and the entries deleted, all committed
        together. A crash leaves the entries waiting and nothing half-applied; doing an entry
        again writes nothing (the copy already equals what it would become), so delivery is
        at-least-once and the effect exactly once. When anything in a group fails, it is
        rolled back and its users are done again one transaction each, so one bad user holds
        up no other."""
        report = RefreshReport()
        group = max(1, group)
        idle = 0
        for _ in range(max_passes):
            with self._uow_factory() as uow:
                batch = uow.network.pending(limit)
            if not batch:
                break
            groups: dict[tuple[str, str], int] = {}
            for entry in batch:
                groups[(entry.institution, entry.link_id)] = entry.id  # the last id
            keys = sorted(groups)
            taken = 0
            for start in range(0, len(keys), group):
                taken += self._process_group(
                    [(k[0], k[1], groups[k]) for k in keys[start:start + group]], report)
            if taken == len(keys):
                idle = 0
                if len(batch) < limit:
                    break
                continue
            # Some users are being refreshed by another transaction (another worker, a
            # refresh on request): look again shortly, then leave them to later passes.
            idle = idle + 1 if taken == 0 else 0
            if idle > IDLE_PASSES:
                break
            time.sleep(IDLE_PAUSE_SECONDS)
        return report

    def _process_group(self, sources: list[tuple[str, str, int]], report: RefreshReport) -> int:
        """One transaction for these source users; how many of them it held the lock of."""
        part = RefreshReport()
        try:
            with self._uow_factory() as uow:
                taken = self._refresh_group(uow, sources, part)
                uow.commit()
        except Exception as exc:
            if len(sources) == 1:
                self._failed(sources[0], exc, report)
                return 1
            # Rolled back whole: each user again, on its own.
            log.info("network_refresh_group_retried", users=len(sources), error=str(exc))
            return sum(self._process_group([source], report) for source in sources)
        _add(report, part)
        return taken

    def _failed(self, source: tuple[str, str, int], exc: Exception,
                report: RefreshReport) -> None:
        """The entries stay waiting; counted, logged, retried later."""
        institution, link_id, up_to = source
        log.warning("network_refresh_failed", institution=institution, link_id=link_id,
                    error=str(exc))
        report.failed.append(f"{institution}/{link_id}: {exc}")
        with self._uow_factory() as uow:
            for entry in uow.network.entries_of(institution, link_id, up_to):
                uow.network.failed(entry.id, str(exc)[:1000])
            uow.commit()

    def _refresh_group(self, uow: NetworkUnitOfWork, sources: list[tuple[str, str, int]],
                       report: RefreshReport) -> int:
        held = set(uow.network.try_lock_sources([(i, link) for i, link, _ in sources]))
        mine = [s for s in sources if (s[0], s[1]) in held]
        entries = uow.network.entries_of_sources(mine)
        by_source: dict[tuple[str, str], list[OutboxEntry]] = {}
        for entry in entries:
            by_source.setdefault((entry.institution, entry.link_id), []).append(entry)
        if not by_source:
            return len(mine)  # another worker did them
        loaded = uow.network.load_many(
            [e[-1].source_pk for e in by_source.values() if e[-1].source_pk is not None])
        copies = uow.network.copies_of_sources(list(by_source))
        settings = _Settings(uow)
        writes = _Writes()
        gone: dict[tuple[str, str], bool] = {}
        for key, its in by_source.items():
            last = its[-1]
            found = loaded.get(last.source_pk) if last.source_pk is not None else None
            source = found if found is not None and found.institution == key[0] else None
            if last.kind is OutboxKind.DELETED or source is None:
                self._mark(copies[key], key, writes, report)
                gone[key] = found is None
            else:
                self._refresh_copies(uow, copies[key], source, key[0], settings, writes,
                                     report)
        if writes.copies:
            try:
                self._users.store_many_in(uow, writes.copies, LIVE_ACTOR)
            except InputError as exc:
                raise RefreshFailed(f"({exc})") from None
        uow.network.record_many(writes.history)
        self._owe_pushes(uow, by_source, gone)
        uow.network.done([e.id for e in entries])
        report.entries += len(entries)
        return len(mine)

    @staticmethod
    def _owe_pushes(uow: NetworkUnitOfWork, by_source: dict[tuple[str, str], list[OutboxEntry]],
                    gone: dict[tuple[str, str], bool]) -> None:
        """Copies on other deployments: one push owed per source user and host, in the
        transaction that takes the entries (nothing lost), numbered by the last entry
        (order)."""
        users = [(key[0], e[-1].source_pk) for key, e in by_source.items()
                 if e[-1].source_pk is not None]
        hosts = uow.pushes.remote_hosts_of(users) if users else {}
        for (institution, _link), its in by_source.items():
            last = its[-1]
            if last.source_pk is None:
                continue
            deleted = last.kind is OutboxKind.DELETED or gone.get((institution, _link), False)
            for host in hosts.get((institution, last.source_pk), []):
                uow.pushes.owe(institution, last.source_pk, host, its[0].link_id, last.id,
                               deleted)

    def _mark(self, copies: list[User], key: tuple[str, str], writes: _Writes,
              report: RefreshReport) -> None:
        """The source user is gone: its copies here get the note saying so (once)."""
        institution, link_id = key
        for copy_ in copies:
            marked = marked_gone(copy_, institution, self._clock())
            if same_content(marked, copy_):
                report.unchanged += 1
                continue
            writes.copies.append((copy_, marked))
            writes.history.append((copy_.institution, LIVE_ACTOR, "network.source_deleted",
                                   copy_.primary_id, {"source_institution_code": institution,
                                                      "source_user_id": link_id}))
            report.marked += 1

    def _refresh_copies(self, uow: NetworkUnitOfWork, copies: list[User], source: User,
                        institution: str, settings: _Settings, writes: _Writes,
                        report: RefreshReport) -> None:
        """The copies here refreshed from their source, those that change (``_apply``'s
        rule and history line, trigger ``live``, nothing recorded when unchanged)."""
        share = settings.share_blocks(institution)
        for copy_ in copies:
            partner = settings.partner(copy_.institution, institution)
            if partner is None:  # not (or no longer) a partner: maybe a zone member's copy
                self.zone_refresh(uow, copy_, source, report)
                continue
            new = refreshed_copy(copy_, source, partner, share)
            if same_content(new, copy_):
                report.unchanged += 1
                continue
            writes.copies.append((copy_, new))
            writes.history.append((copy_.institution, LIVE_ACTOR, "network.refresh",
                                   new.primary_id, {
                                       "trigger": "live",
                                       "changed": True,
                                       "source_institution_code": partner.code,
                                       "source_user_id": source.primary_id,
                                   }))
            report.refreshed += 1
