"""Live servers for the tests that need a real one: uvicorn in a thread on a free loopback
port (the browser tests), the browser driving it (Debian's chromium through Playwright, with
axe-core), and ``bookplate serve`` processes of their own (the network tests' two
deployments)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bookplate.api.app import create_app
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.sis.model import CsvOptions, Profile
from bookplate.users.model import ContactInfo, Email, User, UserInput
from tests.functional.staff_pages import PASSWORD, seed
from tests.integration.auth.peers import free_port, port_open, stop, wait_until

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
#: No request leaves the machine: every name but the loopback ones fails to resolve.
HERMETIC = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", *HERMETIC]
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = os.environ.get("BOOKPLATE_SCREENSHOTS")

NO_CHROMIUM = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                 reason="Debian chromium is not installed")
#: The marks of a test module that drives chromium and runs axe-core.
BROWSER_MARKS = [
    NO_CHROMIUM,
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (scripts/test-peers.sh)"),
]


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@contextmanager
def live_app(
    settings: Settings, prepare: Callable[[Container], None] = lambda c: None
) -> Iterator[tuple[str, Container]]:
    """A migrated container over ``settings``, ``prepare``d (seeded), served in a thread
    until the block ends; yields (base URL, container). The container is closed after."""
    container = build_container(settings, migrate=True)
    try:
        prepare(container)
        with serve_in_thread(create_app(settings, container)) as base:
            yield base, container
    finally:
        container.close()


class Browser:
    """One browser for a test; pages in contexts with or without JavaScript. Every request
    to a host other than the live server is recorded (there must be none)."""

    def __init__(self, playwright: Any, base: str) -> None:
        self.base = base
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        self.foreign: list[str] = []

    def page(self, javascript: bool = True) -> Any:
        # axe is injected as a script element: the pages' CSP (script-src 'self') would
        # refuse it, so the test context alone bypasses CSP.
        context = self.browser.new_context(java_script_enabled=javascript, bypass_csp=True)
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(self.base)
                else self.foreign.append(r.url))
        return page

    def sign_in(self, page: Any, who: str) -> None:
        page.goto(f"{self.base}/auth/login")
        page.fill("#username", who)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_load_state()

    def close(self) -> None:
        self.browser.close()


@contextmanager
def browser_on(base: str) -> Iterator[Browser]:
    """A browser for the server at ``base``, closed when the block ends, which then checks
    that no page asked any other host (no CDN, nothing but Bookplate).

    Playwright's sync API runs an event loop in this thread while it is open: use it inside
    one test (pytest-playwright's session-wide fixtures would leave it running and break
    later ``asyncio.run()`` calls, e.g. the SIS worker's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        b = Browser(playwright, base)
        try:
            yield b
        finally:
            b.close()
    assert b.foreign == []


def axe_clean(page: Any, name: str = "") -> None:
    """Zero WCAG 2.1 A/AA violations on the page as shown (JavaScript pages only)."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return result.violations.map(v => ({id: v.id, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    assert violations == [], (page.url, violations)
    if SHOTS and name:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


# -- deployments of their own (``bookplate serve`` processes) ------------------------------------


@dataclass
class Deployment:
    """A ``bookplate serve`` process over its own SQLite file, with one institution and a
    read-write key; started and stopped by the test (stopping one is how a partner goes
    down)."""

    database: str
    port: int
    key: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "BOOKPLATE_DATABASE_URL": self.database}
        env.pop("BOOKPLATE_REDIS_URL", None)
        command = str(Path(sys.executable).parent / "bookplate")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([command, "serve", "--port", str(self.port)],
                                         env=env, stdout=out, stderr=out)
        try:
            wait_until(lambda: port_open(self.port), f"bookplate serve ({self.log.stem})", 60)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def deployment(tmp: Path, name: str, institution: str, *, seed_user: bool) -> Deployment:
    """A deployment's database, migrated, with ``institution``, its key and (``seed_user``)
    the user ``walker``; not started yet."""
    database = f"sqlite:///{tmp / name}.db"
    c = build_container(Settings(database_url=database, redis_url=None), migrate=True)
    try:
        c.add_institution(institution, institution)
        _, key = c.keys.create(institution, "rw", parse_areas(["users:rw", "conf:rw"]), 1000)
        if seed_user:
            c.users.create(institution, UserInput(User(
                primary_id="walker", first_name="Jo", last_name="Walker",
                user_group="UNDERGRAD", contact_info=ContactInfo(
                    emails=[Email("jo@a.edu", preferred=True, email_types=["school"])]),
            )), "seed")
    finally:
        c.close()
    return Deployment(database, free_port(), key, tmp / f"{name}.log")


@contextmanager
def two_deployments(tmp: Path) -> Iterator[tuple[Deployment, Deployment]]:
    """Deployments A (institution A, user walker) and B (institution B), both started,
    both stopped when the block ends."""
    a = deployment(tmp, "a", "A", seed_user=True)
    b = deployment(tmp, "b", "B", seed_user=False)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()


# -- the fixtures of the browser tests ----------------------------------------------------------


@dataclass
class Live:
    """The administration pages' live server and the container behind it."""

    url: str
    container: Container

    def __str__(self) -> str:
        return self.url


def _admin_seed(container: Container) -> None:
    seed(container)
    container.sis.create_profile(Profile(
        "REG", "MAIN", default_user_group="UNDERGRAD", description="Registrar",
        csv=CsvOptions({"Student ID": "primary_id", "Surname": "last_name"})))


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The staff pages' people (``staff_pages.seed``) and an SIS profile REG, served live
    over each database (``database_url`` of tests/functional/conftest.py): the
    administration pages' browser tests."""
    settings = Settings(database_url=database_url, cache_seconds=0, redis_url=None,
                        session_cookie_secure=False, sis_spool=str(tmp_path / "spool"))
    with live_app(settings, _admin_seed) as (base, container):
        yield Live(base, container)


@pytest.fixture
def live(server: Live) -> str:
    return server.url


@pytest.fixture
def browser(live: str) -> Iterator[Browser]:
    """A browser on the module's ``live`` server (a module may declare its own ``live``)."""
    with browser_on(live) as b:
        yield b
