"""The ``bookplate`` command."""

from __future__ import annotations

from bookplate.cli.main import app


def main() -> None:
    app()
