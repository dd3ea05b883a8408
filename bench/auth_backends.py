"""SAML and CAS login validation cost on Bookplate's side (issue 6: p99 < 100 ms excluding the
identity provider).

SAML: an in-process pysaml2 IdP signs N responses beforehand (not timed); each ``saml.finish``
is timed: pre-checks, the xmlsec1 signature check, conditions, replay cache.
CAS: a canned CAS 3.0 success answer served by an in-memory transport (the CAS server's own
time excluded); each ``cas.validate`` is timed: checks, the HTTP client, the safe XML parse.

Run: PYTHONPATH=. .venv/bin/python bench/auth_backends.py [N]   (needs Debian xmlsec1)
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from tests.integration.auth.saml_idp import InProcessIdP, b64, idp_config, idp_metadata, keypair

from bookplate.auth.backends import cas, saml


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{name:<34} n={len(ms):<5} p50={statistics.median(ms):6.2f} ms  "
          f"p95={pct(ms, 0.95):6.2f} ms  p99={pct(ms, 0.99):6.2f} ms  max={max(ms):6.2f} ms")


def bench_saml(n: int) -> None:
    d = Path(tempfile.mkdtemp(prefix="bench-saml-"))
    idp_key, sp_key = keypair(d, "idp"), keypair(d, "sp")
    profile = saml.SamlProfile(
        institution="BENCH", code="main", sp_entity_id="http://127.0.0.1:8000/auth/saml/main/md",
        acs_url="http://127.0.0.1:8000/auth/saml/main/acs", sp_key_file=sp_key[1],
        sp_cert_file=sp_key[0], idp_metadata_xml=idp_metadata(idp_config(d, idp_key, [])),
    )
    idp = InProcessIdP(d, [profile], idp_key)
    logins = []
    for _ in range(n):
        url, rid = saml.start(profile)
        logins.append((b64(idp.respond(url)), rid))
    cache = saml.MemoryReplayCache()
    samples = []
    for response, rid in logins:
        t0 = time.perf_counter()
        saml.finish(profile, response, [rid], cache)
        samples.append(time.perf_counter() - t0)
    report("SAML finish (signed assertion)", samples)


def bench_cas(n: int) -> None:
    body = (b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">'
            b"<cas:authenticationSuccess><cas:user>jdoe</cas:user><cas:attributes>"
            b"<cas:email>jdoe@example.org</cas:email><cas:first_name>Jane</cas:first_name>"
            b"</cas:attributes></cas:authenticationSuccess></cas:serviceResponse>")
    client = httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200,
                                                                                     content=body)))
    profile = cas.CasProfile(institution="BENCH", code="main", server_url="http://cas.test/cas/",
                             allowed_services=("http://127.0.0.1:8000/auth/cas/",))
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        cas.validate(profile, "http://127.0.0.1:8000/auth/cas/main/callback", f"ST-{i}-abc",
                     client=client)
        samples.append(time.perf_counter() - t0)
    report("CAS validate (parse, no server)", samples)


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.disable(logging.ERROR)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"python {platform.python_version()}, {platform.machine()}, n={n}")
    bench_saml(n)
    bench_cas(n * 10)
