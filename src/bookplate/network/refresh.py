"""Live refresh: the outbox of changed source users worked into their copies in this
deployment (see docs/networks.md)."""

from __future__ import annotations

import structlog

from bookplate.network.base import LIVE_ACTOR, SourceRecord
from bookplate.network.linking import Linking
from bookplate.network.model import (
    OutboxEntry,
    OutboxKind,
    RefreshReport,
    marked_gone,
    same_content,
)
from bookplate.network.ports import NetworkUnitOfWork

log = structlog.get_logger("bookplate.network")


class OutboxRefresh(Linking):
    def waiting(self) -> int:
        with self._uow_factory() as uow:
            return uow.network.waiting()

    def process_outbox(self, limit: int = 500, *, max_passes: int = 1_000) -> RefreshReport:
        """Bring the copies of every changed source user up to date, oldest change first.

        One transaction per source user: its waiting entries are taken under a lock on that
        user, its copies written from the source's *current* record, the entries deleted, all
        committed together. A crash leaves the entries waiting and nothing half-applied; doing
        an entry again writes nothing (the copy already equals what it would become), so
        delivery is at-least-once and the effect exactly once."""
        report = RefreshReport()
        for _ in range(max_passes):
            with self._uow_factory() as uow:
                batch = uow.network.pending(limit)
            if not batch:
                break
            groups: dict[tuple[str, str], int] = {}
            for entry in batch:
                groups[(entry.institution, entry.link_id)] = entry.id  # the last id
            for (institution, link_id), up_to in groups.items():
                self._process_source(institution, link_id, up_to, report)
            if len(batch) < limit:
                break
        return report

    def _process_source(
        self, institution: str, link_id: str, up_to: int, report: RefreshReport
    ) -> None:
        try:
            with self._uow_factory() as uow:
                uow.network.lock_source(institution, link_id)
                entries = uow.network.entries_of(institution, link_id, up_to)
                if not entries:
                    return  # another worker did them
                self._refresh_copies(uow, institution, link_id, entries, report)
                self._owe_pushes(uow, institution, entries)
                uow.network.done([e.id for e in entries])
                uow.commit()
                report.entries += len(entries)
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
                    entries: list[OutboxEntry]) -> None:
        """Copies on other deployments: one push owed per host, in the transaction that
        takes the entries (nothing lost), numbered by the last entry (order)."""
        last = entries[-1]
        if last.source_pk is None:
            return
        deleted = last.kind is OutboxKind.DELETED or uow.network.load(last.source_pk) is None
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
    ) -> None:
        last = entries[-1]
        source = uow.network.load(last.source_pk) if last.source_pk is not None else None
        if source is not None and source.institution != institution:
            source = None
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
            return
        share = uow.network.member(institution).share_blocks
        for copy_ in copies:
            partner = uow.network.partner(copy_.institution, institution)
            if partner is None:
                continue  # the host no longer has the source's institution as a partner
            _user, changed = self._apply(uow, copy_, SourceRecord(source, share), partner,
                                         LIVE_ACTOR, "live", quiet_when_unchanged=True)
            if changed:
                report.refreshed += 1
            else:
                report.unchanged += 1

