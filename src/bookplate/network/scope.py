"""The network-wide ID rule: checked over every stored ID before it is switched."""

from __future__ import annotations

from bookplate.network.base import NetworkBase
from bookplate.network.errors import ScopeClashes
from bookplate.network.model import IdClash, IdScope
from bookplate.users.errors import DuplicateId


class IdScopeRule(NetworkBase):
    def scope_clashes(self, scope: IdScope) -> list[IdClash]:
        """Every ID value that would be held twice under ``scope`` (nothing changed)."""
        with self._uow_factory() as uow:
            return uow.institutions.id_clashes(scope)

    def set_scope(self, scope: IdScope, actor: str) -> None:
        """Switch the ID rule after checking every stored ID; ScopeClashes (with every
        clash) when the new rule would be broken, and then nothing changes."""
        with self._uow_factory() as uow:
            clashes = uow.institutions.id_clashes(scope)
            if clashes:
                raise ScopeClashes(len(clashes), clashes)
            try:
                uow.institutions.set_id_scope(scope)
            except DuplicateId:
                # Written meanwhile by another transaction: report what clashes now.
                raise ScopeClashes(1, uow.institutions.id_clashes(scope)) from None
            uow.network.record("*", actor, "network.id_scope", "network", {"scope": scope.value})
            uow.commit()
