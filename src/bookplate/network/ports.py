"""Storage of institutions and network settings."""

from __future__ import annotations

from typing import Protocol

from bookplate.network.model import IdScope, Institution


class InstitutionRepository(Protocol):
    def get(self, code: str) -> Institution | None: ...

    def list(self) -> list[Institution]: ...

    def add(self, institution: Institution) -> None: ...

    def id_scope(self) -> IdScope: ...

    def set_id_scope(self, scope: IdScope) -> None:
        """Recompute every stored ID's scope; raises DuplicateId if the new rule is broken."""
        ...
