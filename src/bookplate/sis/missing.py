"""Users of the profile that the file no longer holds: the guard's read-only pass (how many
would be deactivated or changed) and, after the main pass, their deactivation or expiry."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from bookplate.sis.batch import batches, fingerprint
from bookplate.sis.id_checks import LAST_ADMIN, LastAdministrator
from bookplate.sis.model import Action, ActionKind, MissingPolicy, Profile, Report
from bookplate.sis.ports import SisBatch, SisStore
from bookplate.sis.report_out import DEACTIVATE_SEQ, PlanWriter, item_row, report
from bookplate.sis.seen import PkBits
from bookplate.sis.sources.base import Source
from bookplate.users.model import normalise_id


@dataclass
class MissingUsers:
    store: SisStore
    profile: Profile
    today: date
    batch_size: int

    @property
    def expire_on(self) -> date | None:
        """The expiry date the missing users get (``expire``), or None (``deactivate``)."""
        return self.today if self.profile.missing_policy is MissingPolicy.EXPIRE else None

    def users(self, seen: Container[int]) -> Iterator[tuple[int, str]]:
        expire = self.expire_on
        return self.store.missing_users(
            self.profile.institution,
            self.profile.code,
            seen,
            active_only=expire is None,
            expire_on=expire,
        )

    def guard(self, source: Source, key: bytes) -> str | None:
        """A read-only pass over the file: how many users would be deactivated (or changed)?
        The reason to abort the run (nothing written) when that is more than the guard share,
        else None."""
        profile = self.profile
        existing = self.store.profile_user_count(profile.institution, profile.code)
        if existing == 0:
            return None
        seen = PkBits()
        changed = 0
        with self.store.batch(read_only=True) as batch:
            for chunk in batches(source.records(), self.batch_size * 5):
                norms = [normalise_id(r.match_id) for r in chunk if r.match_id]
                found = batch.lookup(profile.institution, profile.match_id_type, norms)
                for record in chunk:
                    hit = found.get(normalise_id(record.match_id)) if record.match_id else None
                    if hit is None:
                        continue
                    seen.add(hit.pk)
                    if hit.fingerprint != fingerprint(key, record.raw):
                        changed += 1
        missing = 0
        if profile.missing_policy is not MissingPolicy.OFF:
            missing = sum(1 for _ in self.users(seen))
        touched = missing + (changed if profile.guard_changes else 0)
        share = touched / existing
        if share <= profile.guard_share:
            return None
        what = "deactivated or expired" if not profile.guard_changes else "deactivated or changed"
        return (
            f"{touched} of the profile's {existing} users ({share:.0%}) would be {what}, "
            f"more than the guard's {profile.guard_share:.0%}; nothing was changed"
        )

    def deactivate(
        self,
        seen: Container[int],
        run: Report,
        plan_out: PlanWriter | None,
        admins: LastAdministrator | None,
        *,
        dry_run: bool,
        actor: str,
        clock: Callable[[], datetime],
    ) -> None:
        """Deactivate (or expire) the missing users page by page, each page reported and
        committed with the run's counts; the last administrator is left as it is and
        reported as rejected."""
        expire = self.expire_on
        seq = DEACTIVATE_SEQ
        # Streamed page by page: neither the candidates nor the run's lists are held.
        for page in batches(self.users(seen), self.batch_size):
            spared: list[tuple[int, str]] = []

            def leave(
                batch: SisBatch | None,
                page: list[tuple[int, str]] = page,
                spared: list[tuple[int, str]] = spared,
            ) -> set[int]:
                """The page's users to leave as they are (the last administrator), read
                under the institution's lock in the transaction that deactivates the rest,
                so an API change committed meanwhile counts (``RoleRules.check``)."""
                if admins is None:
                    return set()
                if batch is not None:
                    batch.lock_institution(self.profile.institution)
                stored_admins = admins.administrators()
                refused = admins.spare(
                    [n for _, pid in page if (n := normalise_id(pid)) in stored_admins]
                )
                spared[:] = [(pk, pid) for pk, pid in page if normalise_id(pid) in refused]
                return {pk for pk, _ in spared}

            if dry_run:
                leave(None)
            else:
                self.store.deactivate(
                    [pk for pk, _ in page],
                    expire_on=expire,
                    actor=actor,
                    now=clock(),
                    run_id=run.run_id,
                    leave=leave if admins is not None else None,
                )
            left = {pk for pk, _ in spared}
            part = [(pk, pid) for pk, pid in page if pk not in left]
            kept = [
                Action(ActionKind.REJECT, None, None, primary_id, pk=pk, reason=LAST_ADMIN)
                for pk, primary_id in spared
            ]
            report(run, plan_out, kept)
            why = "expired: not in the file" if expire else "deactivated: not in the file"
            actions = [
                Action(ActionKind.DEACTIVATE, None, None, primary_id, pk=pk, reason=why)
                for pk, primary_id in part
            ]
            report(run, plan_out, actions)
            if dry_run:
                continue
            with self.store.batch() as batch:
                batch.add_items(
                    run.run_id or 0,
                    [item_row(seq + i, a) for i, a in enumerate(kept + actions)],
                )
                batch.update_run(run)
                batch.commit()
            seq += len(kept) + len(actions)
