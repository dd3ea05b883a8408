"""Storage of the roles configuration."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bookplate.roles.model import AssignmentRule, Library, RestrictedSettings, RoleProfile


class RolesRepository(Protocol):
    def libraries(self, institution: str) -> dict[str, Library]: ...

    def put_library(self, institution: str, library: Library) -> None: ...

    def remove_library(self, institution: str, code: str) -> bool: ...

    def profiles(self, institution: str) -> dict[str, RoleProfile]: ...

    def put_profile(self, institution: str, profile: RoleProfile) -> None: ...

    def remove_profile(self, institution: str, code: str) -> bool: ...

    def rules(self, institution: str) -> list[AssignmentRule]: ...

    def put_rule(self, institution: str, rule: AssignmentRule) -> None: ...

    def remove_rule(self, institution: str, rule_id: str) -> bool: ...

    def restricted(self, institution: str) -> RestrictedSettings: ...

    def set_restricted(self, institution: str, settings: RestrictedSettings) -> None: ...

    def record(
        self, institution: str, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        """Write one change to the audit log (who, when, what)."""
        ...

    def history(self, institution: str, target_prefix: str = "") -> list[dict[str, Any]]: ...

    def changes(
        self, institution: str, action_prefixes: Sequence[str], actor: str | None,
        start: datetime | None, end: datetime | None, limit: int, offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Audit rows whose action starts with one of ``action_prefixes``, newest first, and
        how many match in all."""
        ...
