"""The checks a planned batch meets before it is written: identifier clashes (with another
record of the file or a stored user) and the institution's last administrator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bookplate.sis.batch import turn_reject
from bookplate.sis.model import Action, ActionKind
from bookplate.sis.ports import SisBatch
from bookplate.users.model import User, id_values, normalise_id

#: The roles area's view of administrators (``RoleRules``): whether a user is one today, and
#: the normalised primary IDs of the institution's administrators as stored now.
AdminCheck = Callable[[User], bool]
Administrators = Callable[[], set[str]]
LAST_ADMIN = (
    "the institution would be left without an active General System Administrator "
    "(401860); the user is left as it is"
)


def check_ids(
    batch: SisBatch,
    institution: str,
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
                turn_reject(action, f"ID {norm} is also in record {other.record_no} of this file")
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
    holders = batch.id_holders(institution, asked) if asked else {}
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
                turn_reject(
                    action,
                    f"ID {norm} ({holder.id_type}) is already held by user {holder.primary_id}",
                )
                break
    return set(owner), {h.pk for h in holders.values()}


@dataclass
class LastAdministrator:
    """Keeps one active administrator in the institution through a run (issue 13: the SIS
    may not do what the API refuses with 401860)."""

    is_administrator: AdminCheck | None
    administrators: Administrators
    # Administrators this run has taken away (deactivated, expired, role lost), so a later
    # batch, planned before the earlier one is committed, does not count them.
    left: set[str] = field(default_factory=set)

    def keep(self, updates: list[tuple[Action, User]]) -> list[tuple[Action, str]]:
        """Reject the updates that would leave the institution without an administrator.
        Updates go in file order; the one that would take the last administrator away is
        rejected. Returns the updates that take one away all the same (with the normalised
        primary ID), for ``recheck`` when they are written."""
        admin = self.is_administrator
        if admin is None:
            return []
        leaving = [
            (a, normalise_id(old.primary_id))
            for a, old in updates
            if admin(old) and a.user is not None and not admin(a.user)
        ]
        if not leaving:
            return []
        refused = self.spare([norm for _, norm in leaving])
        for action, norm in leaving:
            if norm in refused:
                turn_reject(action, LAST_ADMIN)
        return [(a, norm) for a, norm in leaving if norm not in refused]

    def recheck(self, leaving: list[tuple[Action, str]]) -> None:
        """In the transaction that writes them, once it holds the institution's lock: the
        updates ``keep`` let through were planned against the administrators read before
        (another batch's plan, or an API change committed since, may have taken one away);
        read them again and reject those that would now leave none."""
        remaining = self.administrators()
        for action, norm in leaving:
            if action.kind is not ActionKind.UPDATE or norm not in remaining:
                continue
            if remaining - {norm}:
                remaining.discard(norm)
            else:
                turn_reject(action, LAST_ADMIN)
                self.left.discard(norm)  # stays an administrator for the later batches

    def spare(self, leaving: list[str]) -> set[str]:
        """Of the administrators (normalised primary IDs) this run would take away, in order,
        those it must leave as they are so that one remains; the others count as gone."""
        remaining = self.administrators() - self.left
        refused: set[str] = set()
        for norm in leaving:
            if norm not in remaining:
                continue  # not an administrator as stored, or already counted as gone
            if remaining - {norm}:
                remaining.discard(norm)
                self.left.add(norm)
            else:
                refused.add(norm)
        return refused
