"""What every part of ``NetworkService`` shares: its collaborators, the record a home hands
to a partner, the port to partners on other deployments, and the look-up of a partner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bookplate.errors import InputError
from bookplate.network.errors import (
    IdentifierIssues,
    InstitutionNotFound,
    LinkFailed,
    NetworkError,
    SourceInstitutionInvalid,
)
from bookplate.network.model import Partner
from bookplate.network.ports import NetworkUnitOfWork
from bookplate.users.errors import DuplicateId
from bookplate.users.model import User, UserInput
from bookplate.users.ports import Guard
from bookplate.users.services import UserService, utcnow

NetworkUowFactory = Callable[[], NetworkUnitOfWork]

#: ``actor`` of the writes the outbox worker makes.
LIVE_ACTOR = "network-refresh"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A user as its home institution hands it to a partner."""

    user: User
    share_blocks: bool


@dataclass(frozen=True, slots=True)
class PushBody:
    """A home's record pushed to a host on another deployment: ``seq`` grows with every
    change of the user (an older push never overwrites a newer), ``link_id`` is the ID the
    host knows the user by, ``source_pk`` names the user for good (its primary ID may
    change). ``user`` is None when the source was deleted."""

    home: str
    source_pk: int
    link_id: str
    seq: int
    user: User | None
    share_blocks: bool
    #: A host's blocks for its home (``network.host_blocks``): ``user`` is the host's copy
    #: (None: deleted), ``link_id`` the home's user, ``home`` the sending host.
    host_blocks: bool = False


class RemoteSources(Protocol):
    """Partners on another Bookplate, reached over HTTP (``network.remote``)."""

    def fetch(self, partner: Partner, user_id: str) -> SourceRecord:
        """The partner's user ``user_id`` (raises SourceUserNotFound, PartnerUnavailable,
        NetworkNotFound, SourceInstitutionInvalid)."""
        ...

    def push(self, partner: Partner, body: PushBody) -> str:
        """Deliver ``body`` to the host ``partner``: ``applied``, ``stale`` (it had a newer
        one) or ``no_copy``; raises PartnerUnavailable or NetworkNotFound."""
        ...


class NetworkBase:
    """The state of ``NetworkService``; each job is a mixin over it."""

    def __init__(
        self,
        uow_factory: NetworkUowFactory,
        users: UserService,
        remote: RemoteSources | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._users = users
        self._remote = remote
        self._clock = clock

    def close(self) -> None:
        """Let go of the HTTP connections kept to partners on other deployments."""
        close = getattr(self._remote, "close", None)
        if close is not None:
            close()

    @staticmethod
    def _institution(uow: NetworkUnitOfWork, code: str) -> None:
        if uow.institutions.get(code) is None:
            raise InstitutionNotFound(code)

    def _store_new_copy(self, uow: NetworkUnitOfWork, institution: str, copy_: User,
                        actor: str, guard: Guard | None) -> User:
        """A linked or zone copy created through the users service; an ID clash answers as
        ``IdentifierIssues``, any other refusal as ``LinkFailed`` (network errors pass)."""
        try:
            return self._users.create_in(uow, institution, UserInput(copy_), actor, guard=guard)
        except DuplicateId as exc:
            raise IdentifierIssues(f"({exc})") from None
        except InputError as exc:
            if isinstance(exc, NetworkError):
                raise
            raise LinkFailed(f"({exc})") from None

    def _partner_for(self, uow: NetworkUnitOfWork, institution: str, code: str | None) -> Partner:
        """The caller's partner ``code`` (401651 / 60224 when it is none)."""
        if not code:
            raise SourceInstitutionInvalid("(source_institution_code is missing)")
        if code == institution:
            raise SourceInstitutionInvalid(f"({code} is the caller's own institution)")
        partner = uow.network.partner(institution, code)
        if partner is None:
            if uow.institutions.get(code) is None:
                raise InstitutionNotFound(code)
            raise SourceInstitutionInvalid(f"({code} is not a partner of {institution})")
        return partner

