"""What a redirect backend does not have to write: no metadata document, no logout message
from the provider, no single logout. A backend overrides what its protocol offers (and
declares the matching ``endpoints``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bookplate.auth.errors import ProtocolRefused
from bookplate.auth.model import Identity
from bookplate.auth.ports import BackendContext, ProviderLogout, SessionLink


class RedirectDefaults:
    def __init__(self, context: BackendContext) -> None:
        self.context = context

    def callback_refusal(self, callback: Mapping[str, str]) -> str | None:
        return None

    def session_link(self, profile: Any, identity: Identity) -> SessionLink | None:
        return None

    def logout_url(self, profile: Any, link: SessionLink) -> str | None:
        return None

    def logout_fields(self) -> tuple[str, ...]:
        return ()

    def provider_logout(self, profile: Any, message: Mapping[str, str]) -> ProviderLogout:
        raise ProtocolRefused("the method has no provider logout")

    def metadata(self, profile: Any) -> tuple[str, str]:
        raise ProtocolRefused("the method publishes no metadata")
