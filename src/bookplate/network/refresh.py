"""Live refresh: the outbox of changed source users worked into their copies in this
deployment (see docs/networks.md)."""

from __future__ import annotations

import structlog

from bookplate.network.base import LIVE_ACTOR, SourceRecord
from bookplate.network.linking import Linking
from bookplate.network.model import (
    OutboxEntry,
    OutboxKind,
    Partner,
    RefreshReport,
    marked_gone,
    same_content,
)
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.network.zone import ZoneManagement

log = structlog.get_logger("bookplate.network")

#: How many source users one transaction of the outbox pass refreshes at most.
GROUP = 50


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


class OutboxRefresh(Linking, ZoneManagement):
    def waiting(self) -> int:
        with self._uow_factory() as uow:
            return uow.network.waiting()

    def process_outbox(self, limit: int = 500, *, max_passes: int = 1_000,
                       group: int = GROUP) -> RefreshReport:
        """Bring the copies of every changed source user up to date, oldest change first.

        One transaction per source user: its waiting entries are taken under a lock on that
        user, its copies written from the source's *current* record, the entries deleted, all
        committed together. A crash leaves the entries waiting and nothing half-applied; doing
        an entry again writes nothing (the copy already equals what it would become), so
        delivery is at-least-once and the effect exactly once.

        Up to ``group`` source users share one transaction (one commit, their partner and
        member settings read once); when anything in it fails, it is rolled back and its
        users are done again one transaction each, so one bad user holds up no other."""
        report = RefreshReport()
        group = max(1, group)
        for _ in range(max_passes):
            with self._uow_factory() as uow:
                batch = uow.network.pending(limit)
            if not batch:
                break
            groups: dict[tuple[str, str], int] = {}
            for entry in batch:
                groups[(entry.institution, entry.link_id)] = entry.id  # the last id
            # Sorted: every worker takes the locks of a group in the same order (no deadlock).
            keys = sorted(groups)
            for start in range(0, len(keys), group):
                self._process_group([(k[0], k[1], groups[k]) for k in keys[start:start + group]],
                                    report)
            if len(batch) < limit:
                break
        return report

    def _process_group(self, sources: list[tuple[str, str, int]], report: RefreshReport) -> None:
        if len(sources) == 1:
            self._process_source(*sources[0], report)
            return
        part = RefreshReport()
        try:
            with self._uow_factory() as uow:
                settings = _Settings(uow)
                for institution, link_id, up_to in sources:
                    self._refresh_source(uow, institution, link_id, up_to, part, settings)
                uow.commit()
        except Exception as exc:  # rolled back whole: each user again, on its own
            log.info("network_refresh_group_retried", users=len(sources), error=str(exc))
            for institution, link_id, up_to in sources:
                self._process_source(institution, link_id, up_to, report)
            return
        _add(report, part)

    def _refresh_source(self, uow: NetworkUnitOfWork, institution: str, link_id: str,
                        up_to: int, report: RefreshReport, settings: _Settings) -> None:
        uow.network.lock_source(institution, link_id)
        entries = uow.network.entries_of(institution, link_id, up_to)
        if not entries:
            return  # another worker did them
        gone = self._refresh_copies(uow, institution, link_id, entries, report, settings)
        self._owe_pushes(uow, institution, entries, gone)
        uow.network.done([e.id for e in entries])
        report.entries += len(entries)

    def _process_source(
        self, institution: str, link_id: str, up_to: int, report: RefreshReport
    ) -> None:
        try:
            with self._uow_factory() as uow:
                part = RefreshReport()
                self._refresh_source(uow, institution, link_id, up_to, part, _Settings(uow))
                uow.commit()
            _add(report, part)
        except Exception as exc:  # the entries stay waiting; counted, logged, retried later
            log.warning("network_refresh_failed", institution=institution, link_id=link_id,
                        error=str(exc))
            report.failed.append(f"{institution}/{link_id}: {exc}")
            with self._uow_factory() as uow:
                for entry in uow.network.entries_of(institution, link_id, up_to):
                    uow.network.failed(entry.id, str(exc)[:1000])
                uow.commit()

    @staticmethod
    def _owe_pushes(uow: NetworkUnitOfWork, institution: str,
                    entries: list[OutboxEntry], gone: bool) -> None:
        """Copies on other deployments: one push owed per host, in the transaction that
        takes the entries (nothing lost), numbered by the last entry (order)."""
        last = entries[-1]
        if last.source_pk is None:
            return
        deleted = last.kind is OutboxKind.DELETED or gone
        for host in uow.pushes.remote_hosts(institution, last.source_pk):
            uow.pushes.owe(institution, last.source_pk, host, entries[0].link_id, last.id,
                           deleted)

    def _refresh_copies(
        self,
        uow: NetworkUnitOfWork,
        institution: str,
        link_id: str,
        entries: list[OutboxEntry],
        report: RefreshReport,
        settings: _Settings,
    ) -> bool:
        """Refresh (or mark) the user's copies here; True when the source row is gone."""
        last = entries[-1]
        loaded = uow.network.load(last.source_pk) if last.source_pk is not None else None
        source = loaded if loaded is not None and loaded.institution == institution else None
        copies = uow.network.copies(institution, link_id)
        if last.kind is OutboxKind.DELETED or source is None:
            for copy_ in copies:
                marked = marked_gone(copy_, institution, self._clock())
                if same_content(marked, copy_):
                    report.unchanged += 1
                    continue
                self._users.store_in(uow, copy_, marked, LIVE_ACTOR)
                uow.network.record(copy_.institution, LIVE_ACTOR, "network.source_deleted",
                                   copy_.primary_id, {"source_institution_code": institution,
                                                      "source_user_id": link_id})
                report.marked += 1
            return loaded is None
        share = settings.share_blocks(institution)
        for copy_ in copies:
            partner = settings.partner(copy_.institution, institution)
            if partner is None:  # not (or no longer) a partner: maybe a zone member's copy
                self.zone_refresh(uow, copy_, source, report)
                continue
            _user, changed = self._apply(uow, copy_, SourceRecord(source, share), partner,
                                         LIVE_ACTOR, "live", quiet_when_unchanged=True)
            if changed:
                report.refreshed += 1
            else:
                report.unchanged += 1
        return False

