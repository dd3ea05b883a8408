"""SAML sign-in through HTTP against SimpleSAMLphp from Debian (``php -S`` on loopback, a temp
config dir; see ../shared/peers/simplesamlphp-idp.sh): one good login creating the user just in
time, and a wrong password that never yields a response."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from bookplate.auth.model import Method
from tests.integration.auth.peers import free_port, need, port_open, stop, wait_until
from tests.integration.auth.saml_idp import keypair
from tests.integration.auth.test_web_external import (
    FAILED,
    MAPPING,
    PUBLIC,
    App,
    _signed_in,
    app,  # noqa: F401  (fixture)
    database_url,  # noqa: F401  (fixture)
)

SSP_WWW = Path("/usr/share/simplesamlphp/www")
SP_ENTITY = f"{PUBLIC}/auth/saml/ssp/metadata"
SP_ACS = f"{PUBLIC}/auth/saml/ssp/acs"


def _config(work: Path, port: int) -> None:
    s = Path("/etc/simplesamlphp/config.php").read_text()
    rep = {
        "'baseurlpath' => 'simplesamlphp/',": f"'baseurlpath' => 'http://127.0.0.1:{port}/',",
        "'certdir' => '/etc/ssl/certs/',": f"'certdir' => '{work}/cert/',",
        "'loggingdir' => '/var/log/simplesamlphp/',": f"'loggingdir' => '{work}/log/',",
        "'datadir' => '/var/lib/simplesamlphp/data/',": f"'datadir' => '{work}/data/',",
        "'tempdir' => '/tmp/simplesaml',": f"'tempdir' => '{work}/tmp',",
        "'metadatadir' => '/etc/simplesamlphp/metadata/',": f"'metadatadir' => '{work}/metadata/',",
        "//'secretsalt' => 'defaultsecretsalt',": "'secretsalt' => 'test-only-salt-0123456789',",
        "//'auth.adminpassword' => '123',": "'auth.adminpassword' => 'test-admin',",
        "'enable.saml20-idp' => false,": "'enable.saml20-idp' => true,",
        "'exampleauth' => false,": "'exampleauth' => true,",
        "'logging.handler' => 'syslog',": "'logging.handler' => 'file',",
        "'session.cookie.secure' => true,": "'session.cookie.secure' => false,",
    }
    for a, b in rep.items():
        assert a in s, a
        s = s.replace(a, b)
    (work / "config" / "config.php").write_text(s)
    shutil.copy("/etc/simplesamlphp/acl.php", work / "config")
    (work / "config" / "authsources.php").write_text("""<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'jdoe:Secret-123' => ['uid' => ['jdoe'], 'mail' => ['jdoe@example.org'],
                              'givenName' => ['Jane'], 'sn' => ['Doe']],
    ],
];
""")
    (work / "metadata" / "saml20-idp-hosted.php").write_text(f"""<?php
$metadata['http://127.0.0.1:{port}/saml2/idp/metadata.php'] = [
    'host' => '__DEFAULT__', 'privatekey' => 'idp.key', 'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
];
""")
    (work / "metadata" / "saml20-sp-remote.php").write_text(f"""<?php
$metadata['{SP_ENTITY}'] = ['AssertionConsumerService' => '{SP_ACS}'];
""")


@pytest.fixture(scope="module")
def ssp_idp() -> Iterator[str]:
    """SimpleSAMLphp's IdP; yields its metadata URL."""
    need("php", str(SSP_WWW), "/etc/simplesamlphp/config.php", "/usr/bin/xmlsec1")
    work = Path(tempfile.mkdtemp(prefix="bookplate-ssp-"))
    for d in ("config", "metadata", "cert", "log", "data", "tmp"):
        (work / d).mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=idp.test.local", "-keyout", str(work / "cert/idp.key"),
                    "-out", str(work / "cert/idp.crt")], check=True, capture_output=True)
    port = free_port()
    _config(work, port)
    log = (work / "php-server.log").open("wb")
    proc = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", "-t", str(SSP_WWW)],
                            env={"SIMPLESAMLPHP_CONFIG_DIR": str(work / "config"),
                                 "PATH": "/usr/bin:/bin"},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port), "SimpleSAMLphp")
        yield f"http://127.0.0.1:{port}/saml2/idp/metadata.php"
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _ssp_login(login_url: str, user: str, password: str) -> str | None:
    """Play the browser at SimpleSAMLphp's form; the SAMLResponse it posts back, or None."""
    with httpx2.Client(follow_redirects=True, timeout=20) as browser:
        page = browser.get(login_url)
        state = re.search(r'name="AuthState" value="([^"]+)"', page.text)
        assert state, page.text[:500]
        answer = browser.post(str(page.url).split("?")[0], data={
            "username": user, "password": password, "AuthState": html.unescape(state.group(1))})
        found = re.search(r'name="SAMLResponse" value="([^"]+)"', answer.text)
        return html.unescape(found.group(1)) if found else None


def test_simplesamlphp_login_and_wrong_password(app: App, ssp_idp: str,  # noqa: F811
                                                tmp_path: Path) -> None:
    metadata = httpx2.get(ssp_idp, timeout=20).text
    sp_cert, sp_key = keypair(tmp_path, "sp")
    app.container.external.add(Method.SAML, "MAIN", "ssp", {
        "sp_entity_id": SP_ENTITY, "acs_url": SP_ACS, "sp_key_file": sp_key,
        "sp_cert_file": sp_cert, "idp_metadata_xml": metadata, "user_id_attribute": "uid",
        "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        "mapping": {**MAPPING, "fields": {"first_name": "givenName", "last_name": "sn",
                                          "email": "mail"}},
    })
    start = app.client.get("/auth/saml/ssp/login", params={"institution": "MAIN"})
    assert start.status_code == 303
    response = _ssp_login(start.headers["location"], "jdoe", "Secret-123")
    assert response, "SimpleSAMLphp gave no SAMLResponse"
    _signed_in(app, app.client.post("/auth/saml/ssp/acs", data={"SAMLResponse": response}))
    user = app.container.users.get("MAIN", "jdoe", "primary_id")
    assert (user.first_name, user.last_name) == ("Jane", "Doe")
    # wrong password: the IdP never answers, and nothing posted in its place signs anyone in
    app.client.cookies.clear()
    start = app.client.get("/auth/saml/ssp/login", params={"institution": "MAIN"})
    assert _ssp_login(start.headers["location"], "jdoe", "wrong-password") is None
    refused = app.client.post("/auth/saml/ssp/acs", data={"SAMLResponse": ""})
    assert refused.status_code == 401 and FAILED in refused.text
