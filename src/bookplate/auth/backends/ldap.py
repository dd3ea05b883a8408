"""LDAP: prove a login name and password against an institution's directory (ldap3).

A profile lists up to five servers, tried in order. A server that cannot be reached (refused,
timed out, TLS failure) or that does not know the login name passes the turn to the next one;
a wrong password on a server that knows the user stops there, so one attempt never counts as
five failures in the directory.

Two ways to find the user's entry:

* **search then bind** (``dn_template`` unset): bind with the service account (or anonymously
  when ``bind_dn`` is unset), search ``base_dn`` for ``(&<user_filter>(<login_attribute>=<login>))``
  with the login escaped, require exactly one entry, then bind as that entry's DN;
* **direct bind** (``dn_template`` such as ``uid={login},ou=people,dc=example,dc=org``): the
  login is escaped as an RDN value and put into the template, then read back with a base search.

An empty password is refused before any network traffic: to an LDAP server a simple bind with a
DN and no password is an *anonymous* bind, which many servers accept.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import structlog
from ldap3 import BASE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from bookplate.auth.errors import BadCredentials, ProfileInvalid, ProviderUnavailable
from bookplate.auth.model import Identity, Method, UserMapping
from bookplate.auth.ports import BackendContext

log = structlog.get_logger("bookplate.auth.ldap")

Security = Literal["none", "starttls", "ldaps"]
MAX_SERVERS = 5
MAX_LOGIN = 256
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class LdapServer:
    host: str
    port: int = 389
    security: Security = "none"
    #: PEM file of the CA(s) to trust; None = the system's trust store.
    ca_file: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class LdapProfile:
    institution: str
    code: str
    servers: tuple[LdapServer, ...]
    base_dn: str = ""
    #: Attribute holding the login name (``uid``, ``sAMAccountName``, ``mail``...).
    login_attribute: str = "uid"
    #: Extra filter ANDed into the search, e.g. ``(objectClass=inetOrgPerson)``.
    user_filter: str = "(objectClass=*)"
    #: Service account for the search; None = anonymous search.
    bind_dn: str | None = None
    bind_password: str | None = None
    #: Direct bind: a DN with ``{login}``; None = search then bind.
    dn_template: str | None = None
    #: Attributes read from the entry and passed on in the Identity.
    attributes: tuple[str, ...] = ("cn", "givenName", "sn", "mail")
    mapping: UserMapping = field(default_factory=UserMapping)

    def __post_init__(self) -> None:
        if not 1 <= len(self.servers) <= MAX_SERVERS:
            raise ProfileInvalid(f"An LDAP profile has 1 to {MAX_SERVERS} servers.")
        for s in self.servers:
            if s.security not in ("none", "starttls", "ldaps"):
                raise ProfileInvalid(f"Unknown LDAP security {s.security!r}.")
            if not 0 < s.port < 65536:
                raise ProfileInvalid(f"Bad LDAP port {s.port}.")
        if self.dn_template is not None and self.dn_template.count("{login}") != 1:
            raise ProfileInvalid("dn_template must contain {login} exactly once.")
        if self.dn_template is None and not self.base_dn:
            raise ProfileInvalid("Search then bind needs base_dn.")
        if not self.login_attribute.replace("-", "").isalnum():
            raise ProfileInvalid("login_attribute must be an attribute name.")
        if not (self.user_filter.startswith("(") and self.user_filter.endswith(")")):
            raise ProfileInvalid("user_filter must be a parenthesised LDAP filter.")
        if self.bind_dn is not None and not self.bind_password:
            raise ProfileInvalid("A service bind needs a password.")


class _NotHere(Exception):
    """The server answered but does not know this login: try the next one."""


def _check_input(login: str, password: str) -> None:
    if not password:
        raise BadCredentials("empty password (would be an anonymous bind)")
    if not login or not login.strip():
        raise BadCredentials("empty login")
    if len(login) > MAX_LOGIN or len(password) > MAX_PASSWORD:
        raise BadCredentials("login or password too long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in login) or "\x00" in password:
        raise BadCredentials("control characters in login or password")


def _server(spec: LdapServer) -> Server:
    tls = None
    if spec.security != "none":
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=spec.ca_file,
        )
    return Server(
        spec.host,
        port=spec.port,
        use_ssl=spec.security == "ldaps",
        tls=tls,
        connect_timeout=spec.timeout_s,
        get_info=None,
    )


def _connection(spec: LdapServer, user: str | None, password: str | None) -> Connection:
    conn = Connection(
        _server(spec),
        user=user,
        password=password,
        auto_bind=False,
        receive_timeout=max(1, int(spec.timeout_s)),  # ldap3 packs it as an integer
        raise_exceptions=False,
        read_only=True,
        check_names=True,
    )
    try:
        conn.open()
        if spec.security == "starttls" and not conn.start_tls():
            raise ProviderUnavailable("StartTLS refused")
    except BaseException:
        _close(conn)
        raise
    return conn


def _close(conn: Connection) -> None:
    """Unbind and close the socket even when opening failed (ldap3 leaves it open then)."""
    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        sock.close()


def _values(raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
    for key, value in raw.items():
        if key.lower() == name.lower():
            items = value if isinstance(value, list) else [value]
            return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                         for v in items)
    return ()


def _read_entry(conn: Connection, base: str, flt: str, scope: Any, wanted: list[str]) -> Any:
    if not conn.search(base, flt, search_scope=scope, attributes=wanted, size_limit=2):
        if conn.result.get("result") in (0, 32):  # success with nothing, noSuchObject
            raise _NotHere
        raise LDAPException(f"search failed: {conn.result.get('description')}")
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if len(entries) != 1:
        raise _NotHere
    return entries[0]


def _try_server(profile: LdapProfile, spec: LdapServer, login: str, password: str) -> Identity:
    wanted = sorted({profile.login_attribute, *profile.attributes})
    if profile.dn_template is not None:
        dn = profile.dn_template.replace("{login}", escape_rdn(login))
        conn = _connection(spec, dn, password)
        try:
            if not conn.bind():
                _bind_failed(conn)
            entry = _read_entry(conn, dn, "(objectClass=*)", BASE, wanted)
        finally:
            _close(conn)
    else:
        flt = f"(&{profile.user_filter}({profile.login_attribute}={escape_filter_chars(login)}))"
        service = _connection(spec, profile.bind_dn, profile.bind_password)
        try:
            if not service.bind():
                raise ProviderUnavailable(f"service bind refused: {service.result}")
            entry = _read_entry(service, profile.base_dn, flt, SUBTREE, wanted)
        finally:
            _close(service)
        dn = entry["dn"]
        user = _connection(spec, dn, password)
        try:
            if not user.bind():
                _bind_failed(user)
        finally:
            _close(user)
    raw = entry.get("raw_attributes") or {}
    subject_values = _values(raw, profile.login_attribute)
    subject = subject_values[0] if subject_values else login
    attrs = {name: _values(raw, name) for name in profile.attributes if _values(raw, name)}
    attrs["dn"] = (str(entry["dn"]),)
    return Identity(
        method=Method.LDAP,
        profile=profile.code,
        institution=profile.institution,
        subject=subject,
        attributes=attrs,
    )


def _bind_failed(conn: Connection) -> None:
    result = conn.result or {}
    if result.get("result") == 49:  # invalidCredentials
        raise BadCredentials("invalid credentials")
    if result.get("result") in (32, 34):  # noSuchObject, invalidDNSyntax
        raise _NotHere
    raise BadCredentials(f"bind refused: {result.get('description')}")


def authenticate(profile: LdapProfile, login: str, password: str) -> Identity:
    """Prove ``login``/``password`` against the profile's servers; raise AuthenticationFailed."""
    try:
        _check_input(login, password)
    except BadCredentials as exc:
        log.info("ldap.refused", profile=profile.code, reason=exc.reason)
        raise
    unavailable = 0
    for index, spec in enumerate(profile.servers):
        where = f"{spec.host}:{spec.port}"
        try:
            identity = _try_server(profile, spec, login, password)
        except _NotHere:
            log.info("ldap.unknown_user", profile=profile.code, server=where)
            continue
        except BadCredentials as exc:
            log.info("ldap.bad_credentials", profile=profile.code, server=where, reason=exc.reason)
            raise
        except ProviderUnavailable as exc:
            unavailable += 1
            log.warning("ldap.server_failed", profile=profile.code, server=where,
                        reason=exc.reason, index=index)
            continue
        except (LDAPException, OSError, ssl.SSLError) as exc:
            unavailable += 1
            log.warning("ldap.server_failed", profile=profile.code, server=where,
                        reason=f"{type(exc).__name__}: {exc}", index=index)
            continue
        log.info("ldap.authenticated", profile=profile.code, server=where,
                 subject=identity.subject)
        return identity
    if unavailable == len(profile.servers):
        raise ProviderUnavailable("no LDAP server answered")
    raise BadCredentials("unknown login")


class LdapBackend:
    """LDAP: the password typed into Bookplate's sign-in form, bound against the directory."""

    method: ClassVar[Method] = Method.LDAP
    profile_type: ClassVar[type[Any]] = LdapProfile
    secret_settings: ClassVar[frozenset[str]] = frozenset({"bind_password"})

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    def authenticate(self, profile: LdapProfile, login: str, password: str) -> Identity:
        return authenticate(profile, login, password)
