"""Issue 14 item 16: a 500 does not silently close a keep-alive connection.

The app is served by a real uvicorn on 127.0.0.1 and spoken to over one HTTP/1.1 connection;
a route added for the test raises an unexpected exception.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings


def _boom() -> None:
    raise RuntimeError("an unexpected failure")


@pytest.fixture
def live_port(tmp_path: Path) -> Iterator[int]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/b.db", cache_seconds=0,
                        redis_url=None)
    container = build_container(settings, migrate=True)
    app = create_app(settings, container)
    app.add_api_route("/almaws/v1/test-crash", _boom, methods=["GET"])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)
    sock.close()
    container.close()


def test_a_500_keeps_the_connection_open_and_answers_in_alma_format(live_port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", live_port, timeout=30)
    try:
        conn.request("GET", "/almaws/v1/test-crash", headers={"Accept": "application/json"})
        first = conn.getresponse()
        body = first.read()
        assert first.status == 500
        assert b'"errorCode":"60101"' in body
        sock_before = conn.sock
        # Either the server says it closes, or the connection goes on: never a silent close.
        assert (first.getheader("connection") or "").lower() != "close"
        conn.request("GET", "/almaws/v1/users/operation/test")
        second = conn.getresponse()
        second.read()
        assert conn.sock is sock_before  # the same TCP connection answered again
        assert second.status == 403  # no API key: answered, in Alma's format
    finally:
        conn.close()


def test_the_xml_caller_gets_the_500_in_xml(live_port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", live_port, timeout=30)
    try:
        conn.request("GET", "/almaws/v1/test-crash")
        r = conn.getresponse()
        assert r.status == 500
        assert r.getheader("content-type") == "application/xml"
        assert b"<errorCode>60101</errorCode>" in r.read()
    finally:
        conn.close()
