"""The sign-in methods besides Bookplate's own passwords, one module each, and their
registration. A backend holds one protocol's work and implements ``auth.ports``'s
``PasswordBackend`` (a password typed into Bookplate's form) or ``RedirectBackend`` (the
browser signs in at the provider and comes back); the service (``auth/external.py``), the
profile configuration (``auth/profiles.py``), the CLI and the routes ``/auth/{method}/...``
(``web/external.py``) take everything else from here. docs/authentication.md says how to add
one.
"""

from __future__ import annotations

from bookplate.auth.backends.cas import CasBackend
from bookplate.auth.backends.ldap import LdapBackend
from bookplate.auth.backends.oidc import OidcBackend
from bookplate.auth.backends.saml import SamlBackend
from bookplate.auth.ports import PasswordBackendType, RedirectBackendType

PASSWORD_BACKENDS: tuple[PasswordBackendType, ...] = (LdapBackend,)
REDIRECT_BACKENDS: tuple[RedirectBackendType, ...] = (SamlBackend, CasBackend, OidcBackend)
