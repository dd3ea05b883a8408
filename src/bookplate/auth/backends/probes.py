""""Test connection" of a sign-in profile: reach the provider the way a sign-in would and
report what it answered, without signing anyone in.

* LDAP: for each server, connect (StartTLS/LDAPS as configured), bind with the service account
  (or anonymously), read the search base;
* SAML: fetch (or read) the IdP metadata, parse it hardened (no DTD, no entities, capped), show
  the IdP's entity ID, its SSO URLs and signing certificates;
* CAS: reach the server's login page and its validate URL with a ticket that cannot exist (the
  server must answer a CAS refusal);
* OIDC: fetch the discovery document (its issuer must be the profile's) and the JWKS.

Each step has a short timeout (:data:`TIMEOUT_S` at most) and every failure becomes a step
that says why (refused, timeout, TLS, bad credentials, bad XML or JSON), never an exception.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from typing import Any

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from ldap3 import BASE
from ldap3.core.exceptions import LDAPException

from bookplate.auth.backends import ldap
from bookplate.auth.backends.cas import CasProfile
from bookplate.auth.backends.ldap import LdapProfile, LdapServer
from bookplate.auth.backends.oidc import OidcProfile
from bookplate.auth.backends.saml_client import SamlProfile
from bookplate.auth.errors import AuthenticationFailed
from bookplate.auth.model import ProbeReport, ProbeStep

#: The longest any one step waits (a profile's own timeout applies when shorter).
TIMEOUT_S = 5.0
MAX_DOCUMENT = 1024 * 1024
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
PROBE_TICKET = "ST-bookplate-connection-test-not-a-ticket"


def _timeout(configured: float) -> float:
    return max(0.5, min(configured, TIMEOUT_S))


def _why(exc: BaseException) -> str:
    """A failure in words: what kind and the library's message (cut short)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException) or "timed out" in text.lower():
        kind = "timeout"
    elif isinstance(exc, ssl.SSLError) or "certificate" in text.lower() or "tls" in text.lower():
        kind = "TLS failure"
    elif isinstance(exc, httpx2.ConnectError) or "refused" in text.lower():
        kind = "cannot connect"
    else:
        kind = type(exc).__name__
    return f"{kind}: {text[:300]}"


def _get(url: str, timeout: float, params: dict[str, str] | None = None
         ) -> tuple[int, bytes, str]:
    """One GET, no redirects followed, at most MAX_DOCUMENT bytes: (status, body, type)."""
    with httpx2.Client(timeout=timeout, follow_redirects=False) as http, \
            http.stream("GET", url, params=params) as resp:
        body = bytearray()
        for chunk in resp.iter_bytes():
            body.extend(chunk)
            if len(body) > MAX_DOCUMENT:
                raise ValueError(f"the answer is larger than {MAX_DOCUMENT:,} bytes")
        return resp.status_code, bytes(body), resp.headers.get("content-type", "")


def _xml(body: bytes) -> Any:
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except DefusedXmlException as exc:
        raise ValueError(f"refused XML ({type(exc).__name__}: DTDs and entities are not "
                         "accepted)") from exc
    except Exception as exc:  # ParseError and friends
        raise ValueError(f"not well-formed XML: {str(exc)[:200]}") from exc


# --- LDAP ----------------------------------------------------------------------------------


def _ldap_server(profile: LdapProfile, spec: LdapServer) -> list[ProbeStep]:
    where = f"{spec.host}:{spec.port} ({spec.security})"
    quick = LdapServer(spec.host, spec.port, spec.security, spec.ca_file,
                       _timeout(spec.timeout_s))
    try:
        conn = ldap._connection(quick, profile.bind_dn, profile.bind_password)
    except (AuthenticationFailed, LDAPException, OSError, ssl.SSLError) as exc:
        reason = exc.reason if isinstance(exc, AuthenticationFailed) else _why(exc)
        return [ProbeStep(f"Connect to {where}", False, reason)]
    steps = [ProbeStep(f"Connect to {where}", True, "connected")]
    try:
        who = profile.bind_dn or "anonymous"
        if not conn.bind():
            result = conn.result or {}
            code = result.get("result")
            said = f"{result.get('description')} (result {code})"
            if code == 49:
                said = f"bad credentials: {said}"
            steps.append(ProbeStep(f"Bind as {who}", False, said))
            return steps
        steps.append(ProbeStep(f"Bind as {who}", True, "bind accepted"))
        base = profile.base_dn or (profile.dn_template or "").split(",", 1)[-1]
        if base and conn.search(base, "(objectClass=*)", search_scope=BASE,
                                attributes=["objectClass"], size_limit=1):
            steps.append(ProbeStep(f"Read the search base {base}", True, "the entry exists"))
        elif base:
            result = conn.result or {}
            steps.append(ProbeStep(f"Read the search base {base}", False,
                                   f"{result.get('description')} (result "
                                   f"{result.get('result')})"))
    except (LDAPException, OSError, ssl.SSLError) as exc:
        steps.append(ProbeStep(f"Talk to {where}", False, _why(exc)))
    finally:
        ldap._close(conn)
    return steps


def probe_ldap(profile: LdapProfile) -> list[ProbeStep]:
    return [step for spec in profile.servers for step in _ldap_server(profile, spec)]


# --- SAML ----------------------------------------------------------------------------------


def _saml_document(profile: SamlProfile) -> tuple[bytes, str]:
    if profile.idp_metadata_url is not None:
        status, body, _ = _get(profile.idp_metadata_url, TIMEOUT_S)
        if status != 200:
            raise ValueError(f"HTTP {status} from {profile.idp_metadata_url}")
        return body, f"fetched {profile.idp_metadata_url} (HTTP 200, {len(body):,} bytes)"
    if profile.idp_metadata_file is not None:
        with open(profile.idp_metadata_file, "rb") as handle:
            body = handle.read(MAX_DOCUMENT + 1)
        if len(body) > MAX_DOCUMENT:
            raise ValueError(f"the file is larger than {MAX_DOCUMENT:,} bytes")
        return body, f"read {profile.idp_metadata_file} ({len(body):,} bytes)"
    body = (profile.idp_metadata_xml or "").encode("utf-8")
    return body, f"inline XML ({len(body):,} bytes)"


def _certificate(text: str) -> str:
    der = base64.b64decode("".join(text.split()), validate=True)
    cert = x509.load_der_x509_certificate(der)
    sha = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return (f"subject {cert.subject.rfc4514_string()}, valid until "
            f"{cert.not_valid_after_utc:%Y-%m-%d}, SHA-256 {sha}")


def probe_saml(profile: SamlProfile) -> list[ProbeStep]:
    try:
        body, how = _saml_document(profile)
    except (httpx2.HTTPError, OSError, ValueError) as exc:
        return [ProbeStep("IdP metadata", False, _why(exc))]
    steps = [ProbeStep("IdP metadata", True, how)]
    try:
        root = _xml(body)
    except ValueError as exc:
        return [*steps, ProbeStep("Parse the metadata", False, str(exc))]
    entities = [root] if root.tag == f"{MD}EntityDescriptor" else \
        list(root.iter(f"{MD}EntityDescriptor"))
    idps = [e for e in entities if e.find(f"{MD}IDPSSODescriptor") is not None]
    if profile.idp_entity_id is not None:
        idps = [e for e in idps if e.get("entityID") == profile.idp_entity_id]
    if len(idps) != 1:
        wanted = profile.idp_entity_id or "the only IdP"
        return [*steps, ProbeStep("Find the IdP", False,
                                  f"{len(idps)} IdP descriptors match {wanted}")]
    idp = idps[0]
    steps.append(ProbeStep("Find the IdP", True, f"entity ID {idp.get('entityID')}"))
    descriptor = idp.find(f"{MD}IDPSSODescriptor")
    sso = [f"{s.get('Binding', '').rsplit(':', 1)[-1]} {s.get('Location')}"
           for s in descriptor.findall(f"{MD}SingleSignOnService")]
    steps.append(ProbeStep("Single sign-on URL", bool(sso), "; ".join(sso) or "none given"))
    certs: list[str] = []
    for key in descriptor.findall(f"{MD}KeyDescriptor"):
        if key.get("use") not in (None, "signing"):
            continue
        for node in key.iter(f"{DS}X509Certificate"):
            try:
                certs.append(_certificate(node.text or ""))
            except (ValueError, TypeError) as exc:
                certs.append(f"unreadable certificate ({str(exc)[:100]})")
    good = any(not c.startswith("unreadable") for c in certs)
    steps.append(ProbeStep("Signing certificate", good, "; ".join(certs) or "none given"))
    return steps


# --- CAS -----------------------------------------------------------------------------------


def probe_cas(profile: CasProfile) -> list[ProbeStep]:
    timeout = _timeout(profile.timeout_s)
    service = profile.allowed_services[0]
    steps: list[ProbeStep] = []
    try:
        status, _, _ = _get(profile.server_url + "login", timeout, {"service": service})
        steps.append(ProbeStep("Login page", status in (200, 302, 303),
                               f"{profile.server_url}login answered HTTP {status}"))
    except (httpx2.HTTPError, ValueError) as exc:
        return [ProbeStep("Login page", False, _why(exc))]
    path = "p3/serviceValidate" if profile.version == 3 else "serviceValidate"
    try:
        status, body, _ = _get(profile.server_url + path, timeout,
                               {"service": service, "ticket": PROBE_TICKET})
        root = _xml(body)
    except (httpx2.HTTPError, ValueError) as exc:
        return [*steps, ProbeStep("Validate URL", False, _why(exc))]
    failure = next((n for n in root.iter() if n.tag.endswith("authenticationFailure")), None)
    if status == 200 and failure is not None:
        steps.append(ProbeStep("Validate URL", True,
                               f"{path} answered a CAS refusal of a made-up ticket: "
                               f"{failure.get('code')} {(failure.text or '').strip()[:200]}"))
    else:
        steps.append(ProbeStep("Validate URL", False,
                               f"{path} answered HTTP {status} without a CAS refusal"))
    return steps


# --- OIDC ----------------------------------------------------------------------------------


def _json(url: str, timeout: float) -> dict[str, Any]:
    status, body, _ = _get(url, timeout)
    if status != 200:
        raise ValueError(f"HTTP {status} from {url}")
    try:
        import json  # noqa: PLC0415 - only here

        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"{url}: not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{url}: not a JSON object")
    return data


def probe_oidc(profile: OidcProfile) -> list[ProbeStep]:
    timeout = _timeout(profile.timeout_s)
    url = profile.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        meta = _json(url, timeout)
    except (httpx2.HTTPError, ValueError) as exc:
        return [ProbeStep("Discovery document", False, _why(exc))]
    if meta.get("issuer") != profile.issuer:
        return [ProbeStep("Discovery document", False,
                          f"its issuer {str(meta.get('issuer'))[:200]!r} is not the "
                          f"profile's {profile.issuer!r}")]
    shown = [f"{name} {meta.get(name)}" for name in (
        "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
        "end_session_endpoint") if isinstance(meta.get(name), str)]
    missing = [n for n in ("authorization_endpoint", "token_endpoint", "jwks_uri")
               if not isinstance(meta.get(n), str)]
    steps = [ProbeStep("Discovery document", not missing,
                       f"issuer {profile.issuer}; " + "; ".join(shown)
                       + (f"; lacks {', '.join(missing)}" if missing else ""))]
    if missing:
        return steps
    try:
        jwks = _json(str(meta["jwks_uri"]), timeout)
    except (httpx2.HTTPError, ValueError) as exc:
        return [*steps, ProbeStep("Signing keys (JWKS)", False, _why(exc))]
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
    listed = ", ".join(f"{k.get('kty')} {k.get('alg') or ''} kid={k.get('kid')}".replace(
        "  ", " ") for k in keys[:10])
    steps.append(ProbeStep("Signing keys (JWKS)", bool(keys),
                           f"{len(keys)} key(s): {listed}" if keys else "no keys"))
    return steps


PROBES: dict[type[Any], Callable[[Any], list[ProbeStep]]] = {
    LdapProfile: probe_ldap, SamlProfile: probe_saml, CasProfile: probe_cas,
    OidcProfile: probe_oidc,
}


def probe(profile: Any) -> ProbeReport:
    """Test the profile's provider; every step's outcome in the report."""
    try:
        steps = PROBES[type(profile)](profile)
    except Exception as exc:  # a test reports, never fails the page
        steps = [ProbeStep("Test", False, _why(exc))]
    return ProbeReport(bool(steps) and all(s.ok for s in steps), tuple(steps))
