"""Fixtures starting real identity peers on loopback (session-scoped: started once)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.auth.peers import (
    free_port,
    need,
    port_open,
    self_signed,
    stop,
    stop_pid,
    wait_until,
)

SUFFIX = "dc=example,dc=org"
ROOTDN = f"cn=admin,{SUFFIX}"
ROOTPW = "admin-secret"
SERVICE_DN = f"cn=reader,{SUFFIX}"
SERVICE_PW = "reader-secret"


@dataclass(frozen=True)
class Slapd:
    port: int  # plain and StartTLS
    ldaps_port: int
    ca_file: str


def _hash(password: str) -> str:
    return subprocess.run(
        ["slappasswd", "-s", password], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """Debian's slapd as ``nobody`` on 127.0.0.1: ldap:// (StartTLS offered) and ldaps://."""
    need("/usr/sbin/slapd", "ldapadd", "slappasswd")
    # not under pytest's tmp dir: that is private to root, and slapd runs as nobody
    work = Path(tempfile.mkdtemp(prefix="bookplate-slapd-"))
    os.chmod(work, 0o755)
    (work / "data").mkdir()
    cert, key = self_signed(work)
    port, ldaps_port = free_port(), free_port()
    (work / "slapd.conf").write_text(
        f"""include   /etc/ldap/schema/core.schema
include   /etc/ldap/schema/cosine.schema
include   /etc/ldap/schema/nis.schema
include   /etc/ldap/schema/inetorgperson.schema
pidfile   {work}/slapd.pid
argsfile  {work}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
database  mdb
maxsize   104857600
suffix    "{SUFFIX}"
rootdn    "{ROOTDN}"
rootpw    {_hash(ROOTPW)}
directory {work}/data
index     objectClass,uid,mail eq
"""
    )
    runas: list[str] = []
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(work)], check=True)
        runas = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    uris = f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldaps_port}/"
    subprocess.run(
        [*runas, "/usr/sbin/slapd", "-f", str(work / "slapd.conf"), "-h", uris, "-s", "0"],
        check=True,
    )
    pidfile = work / "slapd.pid"
    try:
        wait_until(lambda: pidfile.exists() and port_open(port), "slapd")
        users = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example Library

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: {SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {_hash(SERVICE_PW)}

dn: uid=jdoe,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: jdoe
cn: Jane Doe
givenName: Jane
sn: Doe
mail: jdoe@example.org
employeeNumber: 1000001
userPassword: {_hash("Secret-123")}

dn: uid=rroe,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: rroe
cn: Richard Roe
givenName: Richard
sn: Roe
mail: rroe@example.org
employeeNumber: 1000002
userPassword: {_hash("Other-456")}

dn: uid=zoë,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: zoë
cn: Zoë Ünicode
sn: Ünicode
userPassword: {_hash("Pässwörd-789")}

dn: uid=nopw,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: nopw
cn: No Password
sn: Password
"""
        subprocess.run(
            ["ldapadd", "-x", "-H", f"ldap://127.0.0.1:{port}", "-D", ROOTDN, "-w", ROOTPW],
            input=users.encode(),
            check=True,
            capture_output=True,
        )
        yield Slapd(port=port, ldaps_port=ldaps_port, ca_file=str(cert))
    finally:
        if pidfile.exists():
            stop_pid(int(pidfile.read_text().strip()))
        shutil.rmtree(work, ignore_errors=True)


# --- CAS: django-mama-cas on Django's development server -----------------------------------

CAS_SETTINGS = """
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "cas_urls"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "mama_cas"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %(db)r}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
MAMA_CAS_SERVICES = [
    {"SERVICE": r"^http://127\\.0\\.0\\.1:9999/.*",
     "CALLBACKS": ["mama_cas.callbacks.user_name_attributes",
                   "mama_cas.callbacks.user_model_attributes"]},
    {"SERVICE": r"^http://127\\.0\\.0\\.1:9998/.*",
     "CALLBACKS": ["mama_cas.callbacks.user_name_attributes"]},
]
"""

CAS_SERVICE = "http://127.0.0.1:9999/auth/cas/main/callback"
OTHER_SERVICE = "http://127.0.0.1:9998/elsewhere"


@dataclass(frozen=True)
class CasServer:
    base: str  # http://127.0.0.1:PORT/cas/


@pytest.fixture(scope="session")
def cas_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CasServer]:
    """django-mama-cas 2.5 (CAS 1/2/3) on Django's server, users jdoe and rroe."""
    try:
        import mama_cas  # noqa: F401
    except ImportError:
        need("django-mama-cas (python package)")
    work = tmp_path_factory.mktemp("cas")
    (work / "cas_settings.py").write_text(CAS_SETTINGS % {"db": str(work / "db.sqlite3")})
    (work / "cas_urls.py").write_text(
        "from django.urls import include, path\n"
        'urlpatterns = [path("cas/", include("mama_cas.urls"))]\n'
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cas_settings", "PYTHONPATH": str(work),
           "PYTHONWARNINGS": "ignore"}
    django = [sys.executable, "-m", "django"]
    subprocess.run([*django, "migrate", "-v0"], env=env, cwd=work, check=True)
    subprocess.run(
        [*django, "shell", "-c",
         "from django.contrib.auth.models import User\n"
         "User.objects.create_user('jdoe', email='jdoe@example.org', password='Secret-123',"
         " first_name='Jane', last_name='Doe')\n"
         "User.objects.create_user('rroe', email='rroe@example.org', password='Other-456',"
         " first_name='Richard', last_name='Roe')\n"],
        env=env, cwd=work, check=True,
    )
    port = free_port()
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(
        [*django, "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: port_open(port), "django-mama-cas")
        yield CasServer(base=f"http://127.0.0.1:{port}/cas/")
    finally:
        stop(proc)
        log.close()


def cas_login(server: CasServer, service: str, user: str = "jdoe",
              password: str = "Secret-123") -> str:
    """Play the browser: log in at the CAS form and return the service ticket."""
    import re
    from urllib.parse import parse_qs, urlsplit

    import httpx2

    login = f"{server.base}login"
    with httpx2.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(login, params={"service": service})
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        answer = browser.post(
            login, params={"service": service},
            data={"csrfmiddlewaretoken": token.group(1), "username": user,
                  "password": password},
            headers={"Referer": str(page.url)},
        )
        assert answer.status_code == 302, answer.text[:500]
        location = answer.headers["location"]
        assert location.startswith(service), location
        return parse_qs(urlsplit(location).query)["ticket"][0]


# --- OpenID Connect: panva's oidc-provider (npm) under Node ---------------------------------

OIDC_DIR = Path(__file__).parent / "oidc_op"


@dataclass(frozen=True)
class OidcServer:
    issuer: str
    redirect_uri: str


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[OidcServer]:
    """oidc-provider 9.13 on 127.0.0.1 (clients svc-test/svc-test-secret and svc-public; users
    alice/alice-pw, bob/bob-pw); `npm ci` in tests/integration/auth/oidc_op is done by .ci/run."""
    need("node")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        message = f"run `npm ci` in {OIDC_DIR} (done by .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    op_port, rp_port = free_port(), free_port()
    proc = subprocess.Popen(
        ["node", str(OIDC_DIR / "oidc-provider.mjs")],
        env={**os.environ, "OP_PORT": str(op_port), "RP_PORT": str(rp_port)},
        cwd=OIDC_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = b""
        for line in proc.stdout:  # the provider's warnings come first, then READY
            if line.startswith(b"READY"):
                break
        else:
            raise RuntimeError(f"oidc-provider did not start: {line!r}")
        # keep draining its output so it never blocks on a full pipe
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield OidcServer(issuer=f"http://127.0.0.1:{op_port}",
                         redirect_uri=f"http://127.0.0.1:{rp_port}/cb")
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def oidc_browser_login(server: OidcServer, auth_url: str, username: str, password: str
                       ) -> str | None:
    """Play the browser through the provider's login and consent forms; return the callback
    URL (with code and state) or None when the provider refused."""
    import re
    from urllib.parse import urljoin

    import httpx2

    with httpx2.Client(timeout=10, follow_redirects=False) as browser:
        resp = browser.get(auth_url)
        for _ in range(12):
            if resp.status_code in (301, 302, 303, 307, 308):
                location = urljoin(str(resp.url), resp.headers["location"])
                if location.startswith(server.redirect_uri):
                    return location
                resp = browser.get(location)
                continue
            action = re.search(r'<form method="post" action="([^"]+)"', resp.text)
            if resp.status_code != 200 or not action:
                return None
            fields = ({"username": username, "password": password}
                      if "<title>Sign-in</title>" in resp.text else {})
            resp = browser.post(urljoin(str(resp.url), action.group(1)), data=fields)
    return None
