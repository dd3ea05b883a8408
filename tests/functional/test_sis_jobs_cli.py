"""``bookplate sis sync --queue``, ``bookplate sis requeue`` and ``bookplate worker`` (a real
procrastinate worker on PostgreSQL, in burst mode)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bookplate.cli.main import app
from bookplate.config import get_settings
from tests.integration.sis.helpers import user_xml, users_doc, write_zip


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("BOOKPLATE_DATABASE_URL", database_url)
    monkeypatch.setenv("BOOKPLATE_SIS_SPOOL", str(tmp_path / "spool"))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["institutions", "add", "MAIN", "Main"]).exit_code == 0
    result = runner.invoke(
        app, ["sis", "profile", "create", "SIS", "-i", "MAIN", "--default-user-group", "UNDERGRAD"]
    )
    assert result.exit_code == 0, result.output
    yield runner
    get_settings.cache_clear()


def report(cli: CliRunner, run_id: int) -> dict[str, object]:
    result = cli.invoke(app, ["sis", "report", str(run_id), "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_queue_worker_and_requeue(cli: CliRunner, tmp_path: Path, database_url: str) -> None:
    file = write_zip(tmp_path / "u.zip", {"u.xml": users_doc(user_xml("q1"), user_xml("q2"))})
    result = cli.invoke(app, ["sis", "sync", str(file), "-p", "SIS", "--queue"])
    assert result.exit_code == 0, result.output
    assert "Run 1 queued" in result.output
    if database_url.startswith("postgresql"):
        assert report(cli, 1)["status"] == "pending"
        result = cli.invoke(app, ["worker", "--burst"])
        assert result.exit_code == 0, result.output
    else:  # on SQLite the queuing process ran it before exiting
        result = cli.invoke(app, ["worker", "--burst"])
        assert result.exit_code == 1 and "PostgreSQL" in result.output
    done = report(cli, 1)
    assert (done["status"], done["create"]) == ("done", 2)
    # A synchronous run goes through a run record too.
    result = cli.invoke(app, ["sis", "sync", str(file), "-p", "SIS", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert report(cli, 2)["unchanged"] == 2
    result = cli.invoke(app, ["sis", "requeue", "2"])
    assert result.exit_code == 1 and "only pending, running or interrupted" in result.output
    assert cli.invoke(app, ["sis", "requeue"]).exit_code == 2  # bad input: no run ids
    result = cli.invoke(app, ["sis", "requeue", "--stalled"])
    assert result.exit_code == 0 and "No stalled runs" in result.output  # none stalled
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == []
