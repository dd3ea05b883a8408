"""Shared set-up of the self-registration tests: a local SMTP sink (aiosmtpd) and the staff
pages' institution with self-registration switched on, a PENDING user group, and the
registration mails sent synchronously (so a test reads the mail right after the form)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_string
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from bookplate.bootstrap import Container
from bookplate.users.ports import CodeRow

LINK = re.compile(r"(http://[^\s]+/register/confirm/[A-Za-z0-9_-]+)")
USER_ID = re.compile(r"Your user ID is (R-[A-Z0-9]+)\.")
REGISTRATION = {"MAIN": {"pending_group": "PENDING", "pending_days": 14, "link_hours": 48}}


class Sink:
    """Every message the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_string(envelope.content.decode("utf-8", "replace")))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def last_body(self, address: str) -> str:
        found = self.to(address)
        assert found, f"no mail to {address}: {[m['To'] for m in self.messages]}"
        payload = found[-1].get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()

    def link(self, address: str) -> str:
        found = LINK.search(self.last_body(address))
        assert found is not None, self.last_body(address)
        return found.group(1)


@contextmanager
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def prepare(c: Container) -> None:
    """The pending group (enabled for PUBLIC), and mails sent in the request's thread."""
    c.code_tables.put(None, "test", "MAIN", "UserGroups",
                      CodeRow("PENDING", "Registration awaiting approval", True, False),
                      ["PUBLIC"])

    def now(job: Any) -> None:
        job()

    c.registrations.background = now


def registration_settings(port: int) -> dict[str, object]:
    return {"public_url": "http://testserver", "smtp_host": "127.0.0.1", "smtp_port": port,
            "self_registration": REGISTRATION}
