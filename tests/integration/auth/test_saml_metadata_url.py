"""SAML SP with the IdP metadata fetched from a URL (a loopback ``http.server`` on 127.0.0.1):
a good login works; an unreachable URL, a 500, non-XML and a DOCTYPE/entity document are a
clean ProfileInvalid; only http(s) URLs are accepted (local files go through the file option)."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bookplate.auth.backends.saml import (
    MemoryReplayCache,
    SamlProfile,
    finish,
    sp_metadata,
    start,
)
from bookplate.auth.errors import ProfileInvalid
from bookplate.auth.model import Method
from tests.integration.auth.peers import need
from tests.integration.auth.saml_idp import InProcessIdP, b64, idp_config, idp_metadata, keypair

ACS = "http://127.0.0.1:8000/auth/saml/mdurl/acs"
SP_ID = "http://127.0.0.1:8000/auth/saml/mdurl/metadata"
DOCTYPE = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE md [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="&b;"/>'
)


class MetadataServer:
    """Serves ``pages`` (path -> (status, content type, body)) on 127.0.0.1, any free port."""

    def __init__(self, pages: dict[str, tuple[int, str, bytes]]) -> None:
        served = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, ctype, body = served.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    need("/usr/bin/xmlsec1")
    d = tmp_path_factory.mktemp("saml-mdurl")
    return {name: keypair(d, name) for name in ("sp", "idp")}


@pytest.fixture(scope="module")
def idp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idp-mdurl")


@pytest.fixture(scope="module")
def server(keys: dict[str, tuple[str, str]], idp_dir: Path) -> Iterator[MetadataServer]:
    md = idp_metadata(idp_config(idp_dir, keys["idp"], [])).encode()
    srv = MetadataServer(
        {
            "/idp.xml": (200, "application/samlmetadata+xml", md),
            "/error": (500, "application/samlmetadata+xml", md),
            "/text": (200, "text/plain", b"this is not XML at all {]<"),
            "/html": (200, "text/html", b"<html><body>Login page</body></html>"),
            "/doctype": (200, "application/xml", DOCTYPE.encode()),
        }
    )
    yield srv
    srv.stop()


def profile(keys: dict[str, tuple[str, str]], url: str, code: str = "mdurl") -> SamlProfile:
    sp_cert, sp_key = keys["sp"]
    return SamlProfile(
        institution="INST",
        code=code,
        sp_entity_id=SP_ID,
        acs_url=ACS,
        sp_key_file=sp_key,
        sp_cert_file=sp_cert,
        idp_metadata_url=url,
    )


def test_login_with_metadata_from_url(
    keys: dict[str, tuple[str, str]], idp_dir: Path, server: MetadataServer
) -> None:
    ours = profile(keys, server.url("/idp.xml"))
    assert ACS in sp_metadata(ours)
    idp = InProcessIdP(idp_dir, [ours], keys["idp"])
    url, rid = start(ours, "/after")
    assert url.startswith("http://127.0.0.1:8088/idp/sso/redirect?SAMLRequest=")
    ident = finish(ours, b64(idp.respond(url)), [rid], MemoryReplayCache())
    assert ident.method is Method.SAML and ident.profile == "mdurl"
    assert ident.first("mail") == "jdoe@example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "path", ["unreachable", "/error", "/text", "/html", "/doctype", "/missing"]
)
def test_bad_metadata_url_refused(
    keys: dict[str, tuple[str, str]], server: MetadataServer, path: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/idp.xml" if path == "unreachable" else server.url(path)
    bad = profile(keys, url, code=f"bad{path.replace('/', '-')}")
    with pytest.raises(ProfileInvalid):
        start(bad)
    if path == "/html":  # well-formed XML without an IdP: our SP metadata does not need one
        assert ACS in sp_metadata(bad)
        return
    with pytest.raises(ProfileInvalid):  # a fetch or parse failure: the SP metadata page too
        sp_metadata(bad)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://127.0.0.1/idp.xml",
        "data:text/xml,<x/>",
        "/etc/passwd",
        "127.0.0.1/idp.xml",
        "http:///idp.xml",
        "",
    ],
)
def test_only_http_urls(keys: dict[str, tuple[str, str]], url: str) -> None:
    with pytest.raises(ProfileInvalid):
        profile(keys, url)


def test_https_url_allowed_in_profile(keys: dict[str, tuple[str, str]]) -> None:
    ok = profile(keys, "https://127.0.0.1:1/idp.xml")
    assert dataclasses.replace(ok, code="x").idp_metadata_url == "https://127.0.0.1:1/idp.xml"
