"""The Dockerfile and compose.yaml, checked without a container engine (none runs here):
the compose file parses and has the four services, every command they run is a real
``bookplate`` command with real options, and LICENSE is the licence pyproject names."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import typer

from bookplate.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
yaml = pytest.importorskip("yaml")


def _accepts(argv: list[str]) -> None:
    """Fail unless ``argv`` names a bookplate command and only options it has."""
    assert argv[0] == "bookplate", argv
    group = typer.main.get_command(app)
    command = group.commands[argv[1]]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts}
    for arg in argv[2:]:
        if arg.startswith("--"):
            assert arg in options, f"{argv[1]} has no option {arg}"
    ctx = command.make_context(argv[1], argv[2:])  # parses values and ranges too
    ctx.close()


def test_compose_file_parses_and_runs_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "api", "worker"}
    for name in ("api", "worker"):
        _accepts(services[name]["command"])
        env = services[name]["environment"]
        assert env["BOOKPLATE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["BOOKPLATE_REDIS_URL"].startswith("redis://")
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_dockerfile_runs_a_real_command_and_probes_ready() -> None:
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert cmd is not None
    _accepts(json.loads(cmd.group(1)))
    assert "/ready" in text and "pip install" in text


def test_license_matches_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
