"""The history of configuration changes (``/staff/admin/history``): the audit rows of code
tables, roles and libraries, SIS profiles, API keys, sign-in profiles and network settings,
newest first, filtered by area, person and dates. Users' own history is not shown here (it
is on each user's record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bookplate.roles.errors import PermissionDenied
from bookplate.roles.model import Actor
from bookplate.roles.policy import Action, decide
from bookplate.roles.ports import RolesRepository
from bookplate.transactions import Transactional

#: Area shown on the page -> the audit actions that belong to it (prefixes).
AREAS: dict[str, tuple[str, ...]] = {
    "codes": ("codes.",),
    "roles": ("roles.profile.", "roles.rule.", "roles.restricted.", "roles.seed"),
    "libraries": ("roles.library.",),
    "sis": ("sis.profile.",),
    "keys": ("keys.",),
    "sign-in": ("auth.profile.",),
    "network": ("network.partner", "network.member", "network.id_scope"),
}
AREA_LABELS: dict[str, str] = {
    "codes": "Code tables", "roles": "Role profiles and rules", "libraries": "Libraries",
    "sis": "SIS profiles", "keys": "API keys", "sign-in": "Sign-in profiles",
    "network": "Network settings",
}
EVERY_AREA = tuple(p for prefixes in AREAS.values() for p in prefixes)


class HistoryUnitOfWork(Transactional, Protocol):
    roles: RolesRepository


@dataclass(frozen=True)
class HistoryQuery:
    area: str | None = None  # a key of AREAS; None: every area
    actor: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # included


def area_of(action: str) -> str:
    for name, prefixes in AREAS.items():
        if action.startswith(prefixes):
            return name
    return ""


@dataclass
class ConfigHistory:
    uow_factory: Callable[[], HistoryUnitOfWork]

    def changes(self, actor: Actor, query: HistoryQuery, limit: int,
                offset: int) -> tuple[list[dict[str, Any]], int]:
        """Needs the policy's ``configure_user_management`` (the history shows keys and
        profiles by name, never secrets: the audit rows hold none)."""
        decision = decide(actor, Action.CONFIGURE)
        if not decision:
            raise PermissionDenied(Action.CONFIGURE.value, decision.reason)
        prefixes = AREAS[query.area] if query.area else EVERY_AREA
        start = (datetime.combine(query.date_from, datetime.min.time(), UTC)
                 if query.date_from else None)
        end = (datetime.combine(query.date_to, datetime.min.time(), UTC) + timedelta(days=1)
               if query.date_to else None)
        with self.uow_factory() as uow:
            rows, total = uow.roles.changes(actor.institution, prefixes, query.actor, start,
                                            end, limit, offset)
        for row in rows:
            row["area"] = AREA_LABELS.get(area_of(row["action"]), "")
        return rows, total
