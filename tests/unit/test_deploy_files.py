"""The Dockerfile and compose.yaml, checked without a container engine: the compose file
parses and has the four services, every command they run is a real ``bookplate`` command with
real options, and LICENSE is the licence pyproject names. The stack itself is built and started
on a real engine by scripts/compose-check.sh (docs/operations.md, "Containers")."""

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
    # both commands migrate an empty database: the worker waits until the api's /ready says done
    assert services["worker"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "test" not in services["api"]["healthcheck"]  # the image's own HEALTHCHECK line


def test_compose_images_default_to_the_real_ones() -> None:
    """scripts/compose-check.sh swaps the images through variables; unset, they are the
    published ones, and api and worker run one image built from this Dockerfile."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    default = re.compile(r"^\$\{(BOOKPLATE_[A-Z_]+):-([^}]+)\}$")
    found = {}
    for name in ("db", "redis", "api", "worker"):
        match = default.match(services[name]["image"])
        assert match, services[name]["image"]
        found[name] = match.groups()
    assert found["db"] == ("BOOKPLATE_POSTGRES_IMAGE", "postgres:16")
    assert found["redis"] == ("BOOKPLATE_REDIS_IMAGE", "redis:7")
    assert found["api"] == found["worker"] == ("BOOKPLATE_IMAGE", "bookplate")
    for name in ("api", "worker"):
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["args"]["BASE"] == "${BOOKPLATE_BASE_IMAGE:-python:3.11-slim}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE\}$", dockerfile, re.MULTILINE)


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    """.dockerignore lets in exactly the files the Dockerfile's COPY lines name (a local
    .venv would otherwise be sent to the engine on every build)."""
    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(part.rstrip("/") for part in line.split()[1:-1])
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert copied == allowed == {"pyproject.toml", "README.md", "LICENSE", "src"}
    assert "*" in (ROOT / ".dockerignore").read_text().splitlines()


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
