"""``/bookplate/v1/sis``: profiles, uploads that queue runs, run reports, and bad input, on
SQLite (a background thread runs the jobs) and PostgreSQL (a real procrastinate worker)."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.sis.model import Profile
from bookplate.sis.queues import ThreadQueue
from bookplate.storage.sis_queue import ProcrastinateQueue
from tests.functional.conftest import Api
from tests.functional.test_staff_api import bearer, staff
from tests.functional.test_users_api import error_code
from tests.integration.sis.helpers import user_xml, users_doc

__all__ = ["staff"]  # the staff-token fixture, over this module's ``api``

UPLOAD_LIMIT = 60_000
PROFILES = "/bookplate/v1/sis/profiles"


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=database_url,
        max_body_bytes=200_000,
        cache_seconds=0,
        redis_url=None,
        sis_spool=str(tmp_path / "spool"),
        sis_max_upload_bytes=UPLOAD_LIMIT,
    )
    container = build_container(settings, migrate=True)
    container.add_institution("MAIN", "Main University")
    container.add_institution("OTHER", "Other College")
    _, key = container.keys.create("MAIN", "rw", parse_areas(["users:rw", "conf:rw"]), 10_000)
    _, ro = container.keys.create("MAIN", "ro", parse_areas(["users:ro"]), 10_000)
    _, conf = container.keys.create("MAIN", "conf", parse_areas(["conf:ro"]), 10_000)
    _, other = container.keys.create("OTHER", "rw", parse_areas(["users:rw"]), 10_000)
    container.sis.create_profile(Profile("SIS", "MAIN", default_user_group="UNDERGRAD"))
    app = create_app(settings, container)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, container, key, ro, conf, other)
    container.close()


def drain(api: Api, timeout: float = 60.0) -> None:
    """Let the queue execute what it holds: the background thread on SQLite, a real
    procrastinate worker (burst mode, in a thread, bounded wait) on PostgreSQL."""
    queue = api.container.sis_jobs.queue
    if isinstance(queue, ThreadQueue):
        queue.join()
        return
    assert isinstance(queue, ProcrastinateQueue)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            queue.run_worker(wait=False, install_signal_handlers=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the procrastinate worker did not finish in time"
    assert not errors, errors


def upload(
    api: Api,
    data: bytes,
    *,
    content_type: str = "application/xml",
    params: dict[str, Any] | None = None,
    code: str = "SIS",
    headers: dict[str, str] | None = None,
) -> Any:
    return api.client.post(
        f"{PROFILES}/{code}/runs",
        content=data,
        params=params or {},
        headers={**(headers or api.h()), "Content-Type": content_type},
    )


def spooled(api: Api) -> list[str]:
    spool = Path(api.container.settings.sis_spool)
    return sorted(p.name for p in spool.iterdir()) if spool.exists() else []


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def run_of(api: Api, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    drain(api)
    location = response.headers["location"]
    assert location.endswith(f"/bookplate/v1/sis/runs/{response.json()['run_id']}")
    got = api.client.get(urlsplit(location).path, headers=api.h())
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_upload_queues_a_run_and_reports(api: Api) -> None:
    doc = users_doc(user_xml("u1"), user_xml("u2"), user_xml("u2"))
    r = upload(api, zipped({"users.xml": doc}), content_type="application/zip")
    assert r.json()["status"] == "pending"
    run = run_of(api, r)
    assert run["status"] == "done", run
    assert (run["total"], run["create"], run["reject"]) == (3, 2, 1)
    assert api.client.get("/almaws/v1/users/u1", headers=api.h()).status_code == 200
    items = api.client.get(
        f"/bookplate/v1/sis/runs/{run['run_id']}/items",
        params={"kind": "rejected"},
        headers=api.h(),
    ).json()
    assert [i["record"] for i in items["item"]] == [3]
    assert "earlier in the same file" in items["item"][0]["detail"]
    page = api.client.get(
        f"/bookplate/v1/sis/runs/{run['run_id']}/items",
        params={"limit": 1, "offset": 1},
        headers=api.h(),
    ).json()
    assert [i["action"] for i in page["item"]] == ["create"]
    runs = api.client.get("/bookplate/v1/sis/runs", params={"profile": "SIS"}, headers=api.h())
    assert [x["run_id"] for x in runs.json()["run"]] == [run["run_id"]]
    # Import only, CSV by Content-Type: the matched user is unchanged, the new one created.
    api.container.sis.update_profile(Profile("SIS", "MAIN", default_user_group="UNDERGRAD"))
    csv = b"primary_id,first_name,last_name\nu1,Ann,Lee\nu9,Bo,Kim\n"
    run = run_of(api, upload(api, csv, content_type="text/csv", params={"import_only": "true"}))
    assert (run["mode"], run["status"], run["create"], run["unchanged"]) == (
        "import",
        "done",
        1,
        1,
    )
    # The spool is emptied once runs finish.
    assert spooled(api) == []


def test_dry_run_upload_writes_nothing(api: Api) -> None:
    run = run_of(
        api, upload(api, users_doc(user_xml("d1"), user_xml("d2")), params={"dry_run": "true"})
    )
    assert (run["dry_run"], run["status"], run["create"]) == (True, "done", 2)
    assert api.client.get("/almaws/v1/users/d1", headers=api.h()).status_code == 400
    plan = api.client.get(f"/bookplate/v1/sis/runs/{run['run_id']}/items", headers=api.h())
    assert [(i["action"], i["match_id"]) for i in plan.json()["item"]] == [
        ("create", "d1"),
        ("create", "d2"),
    ]


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><users><user><primary_id>&lol2;</primary_id>'
    b"</user></users>"
)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "words"),
    [
        (b"not a zip at all", "application/zip", 400, "401676", "not a zip"),
        (b"PK\x03\x04 broken", "application/zip", 400, "401676", "readable zip"),
        (b"", "application/xml", 400, "401676", "empty"),
        (b"x" * (UPLOAD_LIMIT + 1), "application/xml", 413, "401676", "larger than"),
        (BOMB, "application/xml", 400, "401676", "DOCTYPE"),
        (b"\x00\x01binary", "application/octet-stream", 400, "401676", "neither"),
        (zipped({"readme.txt": b"hi"}), "application/zip", 400, "401676", "no .xml"),
        (zipped({"u.xml": BOMB}), "application/zip", 400, "401676", "DOCTYPE"),
        (
            zipped({"u.xml": b"<users>" + b" " * 50_000 + b"</users>"}),
            "application/zip",
            400,
            "401676",
            "zip bomb",
        ),
    ],
)
def test_bad_uploads_get_alma_errors(
    api: Api, data: bytes, content_type: str, status: int, code: str, words: str
) -> None:
    r = upload(api, data, content_type=content_type)
    assert (r.status_code, error_code(r)) == (status, code), r.text
    assert words in r.json()["errorList"]["error"][0]["errorMessage"]
    assert api.client.get("/bookplate/v1/sis/runs", headers=api.h()).json()["run"] == []
    assert spooled(api) == []


def test_upload_refusals(api: Api, staff: dict[str, str]) -> None:
    doc = users_doc(user_xml("u1"))
    r = upload(api, doc, code="NOPE")
    assert (r.status_code, error_code(r)) == (400, "402119")
    assert "NOPE" in r.text
    r = upload(api, doc, headers=api.h(api.ro_key))  # users read-only
    assert (r.status_code, error_code(r)) == (400, "UNAUTHORIZED")
    r = upload(api, doc, headers=api.h(api.conf_key))  # wrong area
    assert (r.status_code, error_code(r)) == (400, "UNAUTHORIZED")
    r = upload(api, doc, headers=api.h(api.other_key))  # the profile is MAIN's
    assert (r.status_code, error_code(r)) == (400, "402119")
    r = upload(api, doc, headers=bearer(staff["manager"]))  # no SIS privilege
    assert (r.status_code, error_code(r)) == (403, "FORBIDDEN")
    r = upload(api, doc, headers={"Accept": "application/json"})
    assert r.status_code in (400, 403) and error_code(r) == "UNAUTHORIZED"
    # Over the limit without a Content-Length (chunked): cut off while streaming.
    r = api.client.post(
        f"{PROFILES}/SIS/runs",
        content=iter([b"<users>", b" " * UPLOAD_LIMIT, b"</users>"]),
        headers={**api.h(), "Content-Type": "application/xml"},
    )
    assert (r.status_code, error_code(r)) == (413, "401676"), r.text
    assert spooled(api) == []
    run = run_of(api, upload(api, doc, headers=bearer(staff["admin"])))
    assert run["status"] == "done"
    created = api.container.users.get("MAIN", "u1")
    assert created.created_by == "staff:admin"
    # Another institution's key cannot read MAIN's run.
    other = api.client.get(f"/bookplate/v1/sis/runs/{run['run_id']}", headers=api.h(api.other_key))
    assert (other.status_code, error_code(other)) == (400, "402119")
    for path, params in [
        ("/bookplate/v1/sis/runs/999", {}),
        (f"/bookplate/v1/sis/runs/{run['run_id']}/items", {"kind": "bogus"}),
        (f"/bookplate/v1/sis/runs/{run['run_id']}/items", {"limit": "0"}),
        ("/bookplate/v1/sis/runs/abc", {}),
    ]:
        r = api.client.get(path, params=params, headers=api.h())
        assert r.status_code == 400, (path, r.text)
        assert error_code(r) in ("402119", "40166411")


def test_profiles_api(api: Api, staff: dict[str, str]) -> None:
    body = {
        "match_id_type": "primary_id",
        "default_user_group": "UNDERGRAD",
        "field_rules": {"first_name": "keep"},
        "missing_policy": "deactivate",
        "guard_share": 0.2,
        "csv": {"columns": {"Student ID": "primary_id"}, "multi_separator": "|"},
    }
    r = api.client.put(f"{PROFILES}/REG", json=body, headers=api.h())
    assert r.status_code == 201, r.text
    assert r.json()["field_rules"] == {"first_name": "keep"}
    r = api.client.put(f"{PROFILES}/REG", json={**body, "guard_share": 0.5}, headers=api.h())
    assert (r.status_code, r.json()["guard_share"]) == (200, 0.5)
    listed = api.client.get(PROFILES, headers=api.h(api.conf_key)).json()["profile"]
    assert [p["code"] for p in listed] == ["REG", "SIS"]
    got = api.client.get(f"{PROFILES}/REG", headers=bearer(staff["admin"]))
    assert got.json()["csv"]["columns"] == {"Student ID": "primary_id"}
    assert api.client.get(f"{PROFILES}/REG", headers=api.h(api.other_key)).status_code == 400
    # Changes need Configuration read/write, or the integration-profile privilege.
    r = api.client.put(f"{PROFILES}/REG", json=body, headers=api.h(api.conf_key))
    assert (r.status_code, error_code(r)) == (400, "UNAUTHORIZED")
    r = api.client.delete(f"{PROFILES}/REG", headers=bearer(staff["manager"]))
    assert (r.status_code, error_code(r)) == (403, "FORBIDDEN")
    r = api.client.get(PROFILES, headers=bearer(staff["manager"]))
    assert (r.status_code, error_code(r)) == (403, "FORBIDDEN")
    assert api.client.delete(f"{PROFILES}/REG", headers=bearer(staff["admin"])).status_code == 204
    for method in ("get", "delete"):
        r = getattr(api.client, method)(f"{PROFILES}/REG", headers=api.h())
        assert (r.status_code, error_code(r)) == (400, "402119"), r.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"add_unmatched": "yes"}, "40166411"),
        ({"expiry_days": "30"}, "40166411"),
        ({"expiry_days": -1}, "40166411"),
        ({"guard_share": 2}, "40166411"),
        ({"record_type": "ALIEN"}, "40166411"),
        ({"missing_policy": "delete"}, "40166411"),
        ({"field_rules": {"first_name": "maybe"}}, "40166411"),
        ({"surprise": 1}, "40166411"),
        ({"csv": {"delimiter": ";;"}}, "40166411"),
        ({"csv": {"extra": True}}, "40166411"),
        ({"default_user_group": "NO_SUCH_GROUP"}, "40166411"),
        ({"match_id_type": "NO_SUCH_TYPE"}, "40166411"),
        ({"field_rules": {"primary_id": "keep"}}, "40166411"),
        ({"field_rules": {"user_group": "keep"}}, "40166411"),
        ({"csv": {"columns": {"X": "nowhere.at.all.really"}}}, "40166411"),
    ],
)
def test_profile_bad_input(api: Api, body: dict[str, Any], code: str) -> None:
    r = api.client.put(f"{PROFILES}/BAD", json=body, headers=api.h())
    assert (r.status_code, error_code(r)) == (400, code), r.text
    assert api.client.get(f"{PROFILES}/BAD", headers=api.h()).status_code == 400


def test_profile_bad_codes_and_bodies(api: Api) -> None:
    r = api.client.put(f"{PROFILES}/bad code!", json={}, headers=api.h())
    assert r.status_code == 400 and error_code(r) == "40166411"
    r = api.client.put(
        f"{PROFILES}/X",
        content=b"{not json",
        headers={**api.h(), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    r = api.client.put(f"{PROFILES}/X", json=[1, 2], headers=api.h())
    assert r.status_code == 400, r.text


def test_interrupted_run_is_requeued(api: Api) -> None:
    """A run left ``running`` by a crash is queued again and converges."""
    jobs = api.container.sis_jobs
    spool = Path(api.container.settings.sis_spool)
    spool.mkdir(parents=True, exist_ok=True)
    source = spool / "in.xml"
    source.write_bytes(users_doc(user_xml("c1"), user_xml("c2")))
    pending = jobs.create("MAIN", "SIS", source, kind="xml", move=True)
    assert pending.run_id is not None
    jobs.execute(pending.run_id)  # a complete run ...
    report = api.container.sis.report(pending.run_id)
    report.status = "running"  # ... that a crash would have left running
    jobs.store.finish_run(report)
    # (its spool file is gone once finished, so write it back as a crash would have left it)
    assert not list(spool.glob(f"{pending.run_id}.*.json"))  # its ticket is gone
    again = jobs.create("MAIN", "SIS", _copy(source.with_name("again.xml")), kind="xml", move=True)
    assert again.run_id is not None
    api.container.sis.store.finish_run(_as_running(api, again.run_id))
    assert jobs.stalled("MAIN") == [pending.run_id, again.run_id]
    jobs.requeue(again.run_id)
    drain(api)
    final = api.container.sis.report(again.run_id)
    assert (final.status, final.counts["unchanged"], final.counts["create"]) == ("done", 2, 0)
    items = api.container.sis.items(again.run_id)
    assert len(items) == 2
    with pytest.raises(Exception, match="only pending, running or interrupted"):
        jobs.requeue(again.run_id)


def _copy(path: Path) -> Path:
    path.write_bytes(users_doc(user_xml("c1"), user_xml("c2")))
    return path


def _as_running(api: Api, run_id: int) -> Any:
    report = api.container.sis.report(run_id)
    report.status = "running"
    return report


def test_worker_needs_a_bounded_wait(api: Api) -> None:
    """Several uploads, one drain: every queued run is executed once."""
    ids = []
    for n in range(3):
        r = upload(api, users_doc(user_xml(f"w{n}")))
        assert r.status_code == 202, r.text
        ids.append(r.json()["run_id"])
    started = time.monotonic()
    drain(api)
    assert time.monotonic() - started < 60
    statuses = [api.container.sis.report(i).status for i in ids]
    assert statuses == ["done"] * 3
