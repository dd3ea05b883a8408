"""Bearer tokens for staff members (``bpt_…``): the API's staff calls and the CLI's
``bookplate roles token``. A token stands for its staff member; what they may do is the roles
policy's (``roles.policy.actor_for`` with their roles as of now)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from bookplate.auth.ports import StaffTokensUnitOfWork
from bookplate.roles.errors import NoStaffPrivileges
from bookplate.roles.model import Actor
from bookplate.roles.policy import actor_for, all_privileges
from bookplate.users.errors import UserNotFound
from bookplate.users.ports import ALL_UNIQUE

TOKEN_PREFIX = "bpt_"  # noqa: S105 - a public prefix, not a secret


def today() -> date:
    return datetime.now(UTC).date()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class StaffTokens:
    """Bearer tokens for staff members, until web sign-in exists (authentication issue)."""

    def __init__(
        self,
        uow_factory: Callable[[], StaffTokensUnitOfWork],
        clock: Callable[[], date] = today,
        cache_seconds: float = 5.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._today = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Actor | None]] = {}

    def issue(
        self, institution: str, primary_id: str, *, staff_only: bool = True
    ) -> tuple[str, str]:
        """A bearer token for a staff member; NoStaffPrivileges when the user holds no role
        with staff privileges (``staff_only=False``: the token of someone whose roles go
        later, which the policy then refuses call by call)."""
        token_id = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(24)}"
        with self._uow_factory() as uow:
            user = uow.users.find(institution, primary_id, ALL_UNIQUE)
            if user is None:
                raise UserNotFound(primary_id)
            if staff_only and not all_privileges(actor_for(user, datetime.now(UTC).date())):
                raise NoStaffPrivileges(user.primary_id)
            uow.staff_tokens.add(
                token_id, institution, user.primary_id, _hash(secret), datetime.now(UTC)
            )
            uow.commit()
        return token_id, secret

    def revoke(self, token_id: str) -> bool:
        with self._uow_factory() as uow:
            done = uow.staff_tokens.revoke(token_id)
            uow.commit()
        self._cache.clear()
        return done

    def actor(self, secret: str | None) -> Actor | None:
        """The staff member behind a live token, with their roles as of now; None if none."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        digest = _hash(secret)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        actor = self._lookup(secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, actor)
        return actor

    def _lookup(self, secret: str) -> Actor | None:
        with self._uow_factory() as uow:
            found = uow.staff_tokens.by_hash(_hash(secret))
            if found is None:
                return None
            user = uow.users.find(found[0], found[1], ALL_UNIQUE)
        if user is None or user.status != "ACTIVE":
            return None
        if user.expiry_date is not None and user.expiry_date < self._today():
            return None
        return actor_for(user, self._today())
