"""Host → home blocks (docs/networks.md, "Blocks both ways").

With the host's partner rule ``send_blocks`` on (off by default), the host's own active blocks
on a linked account reach the person's home account, marked ``created_by = network:<host>``.
Every write of the copy that changes those blocks sends the whole set again, which replaces
the home account's ``network:<host>`` blocks: a block the host removes (or makes inactive, or
the copy deleted) goes at home too. The home's own blocks and other hosts' stay.

- Home in this deployment: the home account is written in the transaction of the host's
  write (``host_blocks_written``, a ``users.ports.WriteHook``), under the lock of the home
  user that its live refresh takes.
- Home on another deployment: the same transaction owes the home a push (the push channel of
  ``network.pushes``, marked as host blocks, numbered by the outbox's counter); the home
  applies it unless it is older than the last it applied (``receive_host_blocks``).

Blocks that reached a home from a host are not passed on to its other copies
(``model.copied_blocks``), so nothing travels back and forth. A home account that refuses the
blocks (a block type it does not know) is left as it is; the refusal is in the history.
"""

from __future__ import annotations

import copy
from typing import cast

import structlog

from bookplate.errors import InputError
from bookplate.network.base import NetworkBase, PushBody
from bookplate.network.errors import LocalCopyNotFound, SourceInstitutionInvalid
from bookplate.network.model import COPIED_BLOCK_PREFIX, same_content
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.users.model import Block, User
from bookplate.users.ports import PRIMARY_ID, UnitOfWork

log = structlog.get_logger("bookplate.network.host_blocks")

#: ``actor`` of the home account's writes.
HOST_BLOCKS_ACTOR = "network-host-blocks"


def own_blocks(user: User | None) -> list[Block]:
    """A copy's blocks of the host's own (active, not copied from the network)."""
    if user is None:
        return []
    return [b for b in user.blocks
            if (b.block_status or "ACTIVE").upper() == "ACTIVE"
            and not (b.created_by or "").startswith(COPIED_BLOCK_PREFIX)]


def with_host_blocks(home: User, host: str, blocks: list[Block]) -> User:
    """``home`` with its ``network:<host>`` blocks replaced by ``blocks`` (so marked)."""
    user = copy.deepcopy(home)
    mark = f"{COPIED_BLOCK_PREFIX}{host}"
    user.blocks = [b for b in user.blocks if b.created_by != mark]
    for block in blocks:
        new = copy.deepcopy(block)
        new.created_by = mark
        user.blocks.append(new)
    return user


class HostBlocks(NetworkBase):
    def host_blocks_written(self, uow: UnitOfWork, before: User | None,
                            after: User | None) -> None:
        """A write of a linked account (``before``: stored, ``after``: to be written, None
        when deleted), in its transaction: when the host's own blocks change and the host's
        rule for the home says ``send_blocks``, the home account gets them (or is owed a
        push). Nothing else is read for any other write."""
        if before is None or not before.source_institution_code or not before.source_link_id:
            return
        blocks = own_blocks(after)
        if blocks == own_blocks(before):
            return
        nuow = cast(NetworkUnitOfWork, uow)
        partner = nuow.network.partner(before.institution, before.source_institution_code)
        if partner is None or not partner.send_blocks:
            return
        copy_id = (after or before).primary_id
        detail = {"source_institution_code": partner.code,
                  "source_user_id": before.source_link_id, "blocks": len(blocks)}
        if partner.remote:
            nuow.pushes.owe_host_blocks(before.institution, before.primary_id, partner.code,
                                        before.source_link_id)
            nuow.network.record(before.institution, HOST_BLOCKS_ACTOR,
                                "network.host_blocks_sent", copy_id, {**detail, "push": True})
            return
        outcome = self._apply_host_blocks(nuow, partner.code, before.source_link_id,
                                          before.institution, blocks, "local", copy_id)
        nuow.network.record(before.institution, HOST_BLOCKS_ACTOR, "network.host_blocks_sent",
                            copy_id, {**detail, "outcome": outcome})

    def _apply_host_blocks(
        self, uow: NetworkUnitOfWork, home: str, home_user_id: str, host: str,
        blocks: list[Block], trigger: str, host_user_id: str,
    ) -> str:
        """Replace ``host``'s blocks on ``home``'s account ``home_user_id``: ``applied``,
        ``unchanged``, ``refused`` (the home's rules refused the record) or ``no_user``."""
        uow.network.lock_source(home, home_user_id)
        stored = uow.users.find(home, home_user_id, PRIMARY_ID)
        if stored is None:
            return "no_user"
        new = with_host_blocks(stored, host, blocks)
        if same_content(new, stored):
            return "unchanged"
        detail = {"host": host, "host_user_id": host_user_id, "blocks": len(blocks),
                  "trigger": trigger}
        try:
            self._users.store_in(uow, stored, new, HOST_BLOCKS_ACTOR)
        except InputError as exc:
            log.warning("network_host_blocks_refused", home=home, host=host, error=str(exc))
            uow.network.record(home, HOST_BLOCKS_ACTOR, "network.host_blocks_refused",
                               stored.primary_id, {**detail, "error": str(exc)[:500]})
            return "refused"
        uow.network.record(home, HOST_BLOCKS_ACTOR, "network.host_blocks", stored.primary_id,
                           detail)
        return "applied"

    def receive_host_blocks(self, institution: str, body: PushBody) -> str:
        """The home side of a host-blocks push: ``body.user`` is the host's copy (None when
        it was deleted), ``body.link_id`` this institution's user. ``stale`` when a newer
        push was applied already."""
        with self._uow_factory() as uow:
            partner = uow.network.partner(institution, body.home)
            if partner is None or not partner.remote:
                raise SourceInstitutionInvalid(
                    f"({body.home} is not a partner of {institution} on another deployment)")
            uow.network.lock_source(institution, body.link_id)
            seen = uow.pushes.seen(institution, body.home, body.source_pk)
            if seen is not None and body.seq <= seen:
                return "stale"
            host_user_id = body.user.primary_id if body.user is not None else body.link_id
            outcome = self._apply_host_blocks(uow, institution, body.link_id, body.home,
                                              own_blocks(body.user), "push", host_user_id)
            if outcome == "no_user":
                raise LocalCopyNotFound()
            uow.pushes.set_seen(institution, body.home, body.source_pk, body.seq)
            uow.commit()
        return "refused" if outcome == "refused" else "applied"
