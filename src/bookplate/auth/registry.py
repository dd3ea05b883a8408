"""The sign-in methods a login page offers. Own passwords are always there; the protocol
adapters (LDAP, SAML, CAS, OIDC) add their configured profiles with ``add``.

This is configuration, filled at start-up, not shared state: every process builds the same
list from the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bookplate.auth.model import Method


@dataclass(frozen=True, slots=True)
class LoginMethod:
    code: str  # profile code, unique per method
    label: str  # what the button says
    method: Method
    start_url: str  # where the browser goes to start this sign-in (relative URL)
    institution: str | None = None  # None = offered for every institution


@dataclass
class LoginMethods:
    _methods: list[LoginMethod] = field(default_factory=list)

    def add(self, method: LoginMethod) -> None:
        self._methods = [
            m for m in self._methods
            if not (m.method == method.method and m.code == method.code
                    and m.institution == method.institution)
        ]
        self._methods.append(method)

    def for_institution(self, institution: str | None) -> list[LoginMethod]:
        return [m for m in self._methods
                if m.institution is None or institution is None or m.institution == institution]
