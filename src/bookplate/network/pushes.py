"""Live refresh across deployments. The home owes each host on another deployment that holds
a copy of a changed user one push (``refresh._owe_pushes``, in the outbox's transaction);
``deliver_pushes`` sends them with the host's partner entry (its URL, key, timeout and
retries). A push that fails waits with its error and is tried again later (backing off);
one that succeeds is dropped unless a newer change was owed meanwhile. The host applies a
push only when its sequence number is newer than the last it applied, so delivery is at
least once and an older push never overwrites a newer one (docs/networks.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from bookplate.errors import BookplateError
from bookplate.network.base import PushBody, SourceRecord
from bookplate.network.errors import LocalCopyNotFound, SourceInstitutionInvalid
from bookplate.network.host_blocks import HostBlocks
from bookplate.network.linking import Linking
from bookplate.network.model import marked_gone, same_content
from bookplate.network.ports import PushEntry

log = structlog.get_logger("bookplate.network.pushes")

PUSH_ACTOR = "network-push"
MAX_BACKOFF_SECONDS = 30


@dataclass
class PushReport:
    delivered: int = 0
    stale: int = 0
    dropped: int = 0  # the host had no copy, or (host blocks) the home refused them
    failed: list[str] = field(default_factory=list)


class PushDelivery(Linking, HostBlocks):
    # -- the home side --------------------------------------------------------------------

    def waiting_pushes(self) -> list[PushEntry]:
        with self._uow_factory() as uow:
            return uow.pushes.waiting_pushes()

    def deliver_pushes(self, limit: int = 500) -> PushReport:
        """Send the pushes that are due, oldest change first."""
        report = PushReport()
        with self._uow_factory() as uow:
            due = uow.pushes.due(self._clock(), limit)
        for entry in due:
            self._deliver(entry, report)
        return report

    def _deliver(self, entry: PushEntry, report: PushReport) -> None:
        with self._uow_factory() as uow:
            partner = uow.network.partner(entry.institution, entry.host)
            user = None if entry.deleted else uow.network.load(entry.source_pk)
            if entry.host_blocks and (user is None or user.source_institution_code != entry.host):
                user = None  # host blocks: the copy is gone, no blocks are left to send
            share = uow.network.member(entry.institution).share_blocks
        try:
            if partner is None or not partner.remote or self._remote is None:
                raise SourceInstitutionInvalid(
                    f"({entry.host} is no partner of {entry.institution} on another "
                    "deployment: add it with its base_url and api_key)")
            body = PushBody(entry.institution, entry.source_pk, entry.link_id, entry.seq,
                            user, share, entry.host_blocks)
            outcome = self._remote.push(partner, body)
        except BookplateError as exc:
            wait = min(MAX_BACKOFF_SECONDS, 2 ** min(entry.attempts, 5))
            with self._uow_factory() as uow:
                uow.pushes.push_failed(entry, str(exc), self._clock() + timedelta(seconds=wait))
                uow.commit()
            log.warning("network_push_failed", institution=entry.institution,
                        host=entry.host, attempts=entry.attempts + 1, error=str(exc))
            report.failed.append(f"{entry.institution}->{entry.host}/{entry.link_id}: {exc}")
            return
        with self._uow_factory() as uow:
            uow.pushes.delivered(entry)
            if not entry.host_blocks and (outcome == "no_copy" or entry.deleted):
                uow.pushes.forget_remote_copy(entry.institution, entry.source_pk, entry.host)
            uow.commit()
        if outcome == "applied":
            report.delivered += 1
        elif outcome == "stale":
            report.stale += 1
        else:
            report.dropped += 1

    # -- the host side --------------------------------------------------------------------

    def receive_push(self, institution: str, body: PushBody) -> str:
        """``POST /bookplate/v1/network/pushes``: the home ``body.home`` sends its user's
        current record; the copy is refreshed (``network.refresh``, trigger ``push``) or
        marked (source deleted) unless a newer push was applied already (``stale``). A
        host's blocks for the home of its copy: ``receive_host_blocks``."""
        if body.host_blocks:
            return self.receive_host_blocks(institution, body)
        with self._uow_factory() as uow:
            partner = uow.network.partner(institution, body.home)
            if partner is None or not partner.remote:
                raise SourceInstitutionInvalid(
                    f"({body.home} is not a partner of {institution} on another deployment)")
            uow.network.lock_source(body.home, f"push:{body.source_pk}")
            seen = uow.pushes.seen(institution, body.home, body.source_pk)
            if seen is not None and body.seq <= seen:
                return "stale"
            copy_ = uow.network.copy_in(institution, body.home, body.link_id)
            if copy_ is None:
                raise LocalCopyNotFound()
            if body.user is None:
                marked = marked_gone(copy_, body.home, self._clock())
                if not same_content(marked, copy_):
                    self._users.store_in(uow, copy_, marked, PUSH_ACTOR)
                    uow.network.record(institution, PUSH_ACTOR, "network.source_deleted",
                                       copy_.primary_id, {"source_institution_code": body.home,
                                                          "source_user_id": body.link_id,
                                                          "trigger": "push"})
            else:
                self._apply(uow, copy_, SourceRecord(body.user, body.share_blocks), partner,
                            PUSH_ACTOR, "push")
            uow.pushes.set_seen(institution, body.home, body.source_pk, body.seq)
            uow.commit()
        return "applied"
