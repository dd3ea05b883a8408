"""``/staff/admin/sis/``: integration profiles, CSV preview, uploads that start runs, the
runs' reports and exports, requeue — through create_app on SQLite (a background thread runs
the jobs) and PostgreSQL (a real procrastinate worker), per role, with the 403s on GET and on
forms posted directly."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookplate.sis.jobs import RUNNING
from bookplate.sis.model import CsvOptions, FieldRule, Profile
from bookplate.users.model import Identifier, User, UserInput
from tests.functional.staff_pages import Site, site_for
from tests.functional.test_sis_api import drain
from tests.integration.sis.helpers import user_xml, users_doc, write_zip

LIMIT = 50_000
BASE = "/staff/admin/sis"


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    for s in site_for(database_url, sis_spool=str(tmp_path / "spool"),
                      sis_max_upload_bytes=LIMIT):
        s.container.sis.create_profile(Profile(
            "REG", "MAIN", default_user_group="UNDERGRAD", description="Registrar",
            csv=CsvOptions({"Student ID": "primary_id", "Surname": "last_name",
                            "Given": "first_name", "Card": "identifier.BARCODE"})))
        yield s


def refused(r: Any, status: int = 403) -> bool:
    return bool(r.status_code == status and 'id="refused"' in r.text)


def upload(site: Site, url: str, name: str, data: bytes, fields: dict[str, str],
           content_type: str = "application/octet-stream") -> Any:
    return site.client.post(url, data={"csrf_token": site.csrf(), **fields},
                            files={"file": (name, data, content_type)}, follow_redirects=False)


def run_file(site: Site, data: bytes, *, dry_run: bool, name: str = "users.xml",
             profile: str = "REG", mode: str = "synchronize") -> int:
    fields = {"profile": profile, "mode": mode, **({"dry_run": "1"} if dry_run else {})}
    r = upload(site, f"{BASE}/runs", name, data, fields)
    assert r.status_code == 303, r.text
    match = re.fullmatch(rf"{BASE}/runs/(\d+)", r.headers["location"])
    assert match is not None, r.headers["location"]
    drain(site)  # type: ignore[arg-type]  # drain() needs only .container
    return int(match.group(1))


def profile_form(**changes: str) -> dict[str, str]:
    form = {
        "description": "Students", "record_type": "PUBLIC", "match_id_type": "BARCODE",
        "default_user_group": "GRAD", "expiry_days": "365", "purge_days": "30",
        "add_unmatched": "1", "missing_policy": "deactivate", "guard_share": "0.25",
        "guard_changes": "1", "rule_field_0": "first_name", "rule_0": "keep",
        "rule_field_1": "birth_date", "rule_1": "replace",
        "csv_delimiter": ";", "csv_encoding": "latin-1", "csv_date_format": "%d.%m.%Y",
        "csv_multi_separator": "|", "csv_missing_columns": "keep",
        "col_header_0": "ID", "col_target_0": "primary_id",
        "col_header_1": "Card", "col_target_1": "identifier.BARCODE",
        "col_header_2": "phone", "col_target_2": "phone.{phone_type}",
    }
    form.update(changes)
    return form


# -- who sees what -------------------------------------------------------------------------


def test_menus_lead_to_the_pages_each_role_may_use(site: Site) -> None:
    site.sign_in("gsa")
    home = site.client.get("/staff/").text
    assert f'href="{BASE}/profiles" id="menu-integration-profiles"' in home
    assert f'href="{BASE}/runs" id="menu-sis-jobs"' in home
    site.sign_in("useradmin")  # runs SIS jobs; does not manage integration profiles
    home = site.client.get("/staff/").text
    assert 'id="menu-sis-jobs"' in home and 'id="menu-integration-profiles"' not in home
    listed = site.client.get(f"{BASE}/profiles")
    assert listed.status_code == 200 and 'id="read-only"' in listed.text
    shown = site.client.get(f"{BASE}/profiles/REG").text
    assert 'id="save-profile"' not in shown and 'id="delete-profile"' not in shown
    assert " disabled" in shown


def test_a_user_manager_and_a_patron_get_403_on_every_page_and_form(site: Site) -> None:
    for who in ("manager", "patron"):
        site.sign_in(who)
        for url in (f"{BASE}/profiles", f"{BASE}/profiles/new", f"{BASE}/profiles/REG",
                    f"{BASE}/runs", f"{BASE}/runs/1", f"{BASE}/runs/1/export"):
            assert refused(site.client.get(url)), (who, url)
    site.sign_in("manager")
    assert 'menu-sis-jobs' not in site.client.get("/staff/").text
    assert refused(site.post(f"{BASE}/profiles/new", {"code": "X", **profile_form()}))
    assert refused(site.post(f"{BASE}/profiles/REG", profile_form()))
    assert refused(site.post(f"{BASE}/profiles/REG/delete", {"confirm": "REG"}))
    assert refused(upload(site, f"{BASE}/runs", "u.xml", users_doc(user_xml("x1")),
                          {"profile": "REG", "mode": "synchronize"}))
    assert refused(upload(site, f"{BASE}/profiles/REG/preview", "s.csv", b"a\n1\n", {}))
    assert [p.code for p in site.container.sis.profiles("MAIN")] == ["REG"]
    assert site.container.sis.profile("MAIN", "REG").description == "Registrar"
    assert site.container.sis.runs("MAIN") == []


def test_a_user_administrator_may_run_but_not_change_profiles(site: Site) -> None:
    site.sign_in("useradmin")
    assert refused(site.post(f"{BASE}/profiles/REG", profile_form()))
    assert refused(site.post(f"{BASE}/profiles/new", {"code": "NEW", **profile_form()}))
    assert site.container.sis.profile("MAIN", "REG").description == "Registrar"
    run_id = run_file(site, users_doc(user_xml("s1")), dry_run=True)
    assert site.container.sis.report(run_id).status == "done"


def test_forms_without_the_session_csrf_token_are_refused(site: Site) -> None:
    site.sign_in("gsa")
    r = site.client.post(f"{BASE}/profiles/REG", data=profile_form())
    assert refused(r)
    r = site.client.post(f"{BASE}/runs", data={"csrf_token": "forged", "profile": "REG",
                                               "mode": "synchronize"},
                         files={"file": ("u.xml", users_doc(user_xml("x")), "text/xml")})
    assert refused(r)
    assert site.container.sis.runs("MAIN") == []
    assert site.container.sis.profile("MAIN", "REG").description == "Registrar"


# -- profiles ------------------------------------------------------------------------------


def test_create_a_profile_with_every_setting_of_the_cli(site: Site) -> None:
    site.sign_in("gsa")
    r = site.post(f"{BASE}/profiles/new", {"code": "STU", **profile_form()})
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/profiles/STU?saved=1"
    p = site.container.sis.profile("MAIN", "STU")
    assert (p.description, p.record_type, p.match_id_type, p.default_user_group) == (
        "Students", "PUBLIC", "BARCODE", "GRAD")
    assert (p.expiry_days, p.purge_days, p.add_unmatched) == (365, 30, True)
    assert (p.missing_policy.value, p.guard_share, p.guard_changes) == ("deactivate", 0.25, True)
    assert p.field_rules == {"first_name": FieldRule.KEEP, "birth_date": FieldRule.REPLACE}
    assert p.csv.columns == {"ID": "primary_id", "Card": "identifier.BARCODE",
                             "phone": "phone.{phone_type}"}
    assert (p.csv.delimiter, p.csv.encoding, p.csv.date_format, p.csv.multi_separator,
            p.csv.missing_columns) == (";", "latin-1", "%d.%m.%Y", "|", "keep")
    shown = site.client.get(r.headers["location"]).text
    assert 'id="notice"' in shown
    assert 'value="phone.{phone_type}"' in shown and 'value="%d.%m.%Y"' in shown
    assert site.post(f"{BASE}/profiles/new", {"code": "STU", **profile_form()}).status_code == 400


def test_editing_keeps_what_the_form_leaves_alone_and_changes_rows_one_by_one(
        site: Site) -> None:
    site.sign_in("gsa")
    assert site.post(f"{BASE}/profiles/new", {"code": "STU", **profile_form()}).status_code == 303
    # The page's form as the browser sends it back, with one rule changed, one column
    # removed, one added in an empty row and the delimiter changed.
    page = site.client.get(f"{BASE}/profiles/STU").text
    assert 'name="rule_remove_0"' in page and 'name="col_remove_1"' in page
    form = profile_form(rule_0="erase", col_remove_1="1", col_header_3="Mail",
                        col_target_3="email.school", csv_delimiter="\\t")
    r = site.post(f"{BASE}/profiles/STU", form)
    assert r.status_code == 303, r.text
    p = site.container.sis.profile("MAIN", "STU")
    assert p.field_rules == {"first_name": FieldRule.ERASE, "birth_date": FieldRule.REPLACE}
    assert p.csv.columns == {"ID": "primary_id", "phone": "phone.{phone_type}",
                             "Mail": "email.school"}
    assert p.csv.delimiter == "\t"
    assert (p.expiry_days, p.guard_share, p.default_user_group, p.csv.encoding) == (
        365, 0.25, "GRAD", "latin-1")  # untouched
    # Emptied day fields remove the setting, as --expiry-days -1 does.
    assert site.post(f"{BASE}/profiles/STU", profile_form(expiry_days="")).status_code == 303
    assert site.container.sis.profile("MAIN", "STU").expiry_days is None


@pytest.mark.parametrize(("change", "message"), [
    ({"guard_share": "2"}, "The guard share must be a number from 0 to 1"),
    ({"expiry_days": "-3"}, "Expiry days must be a whole number"),
    ({"default_user_group": "NOPE"}, "unknown user group NOPE"),
    ({"match_id_type": "NOPE"}, "unknown identifier type NOPE"),
    ({"col_target_0": "shoe_size"}, "shoe_size"),
    ({"col_target_0": ""}, "Each CSV column needs both"),
    ({"rule_field_0": "user_group"}, "No per-field rule is possible for user_group"),
    ({"csv_delimiter": ";;"}, "The CSV delimiter must be one character"),
    ({"missing_policy": "explode"}, "not one of the choices"),
])
def test_bad_input_is_shown_next_to_the_form_and_changes_nothing(
        site: Site, change: dict[str, str], message: str) -> None:
    site.sign_in("gsa")
    before = site.container.sis.profile("MAIN", "REG").to_dict()
    r = site.post(f"{BASE}/profiles/REG", profile_form(**change))
    assert r.status_code == 400 and 'id="form-error"' in r.text, r.text
    assert message in r.text
    assert "Traceback" not in r.text
    assert site.container.sis.profile("MAIN", "REG").to_dict() == before


def test_delete_needs_the_code_typed(site: Site) -> None:
    site.sign_in("gsa")
    assert site.post(f"{BASE}/profiles/REG/delete", {"confirm": "nope"}).status_code == 400
    assert site.container.sis.profile("MAIN", "REG")
    r = site.post(f"{BASE}/profiles/REG/delete", {"confirm": "REG"})
    assert r.status_code == 303
    assert site.container.sis.profiles("MAIN") == []
    assert "The profile REG was deleted" in site.client.get(r.headers["location"]).text
    assert refused(site.client.get(f"{BASE}/profiles/REG"), 404)


def test_csv_preview_shows_the_mapping_and_the_first_rows_as_users(site: Site) -> None:
    site.sign_in("gsa")
    rows = ["Student ID,Surname,Given,Card,Shoe,user_group",
            *(f"s{i},Lee{i},Ann,C-{i},42," for i in range(1, 8))]
    rows[3] = "s3,Lee3,Ann,C-3,42,NOPE"  # an unknown group: rejected as the API would
    sample = ("\n".join(rows) + "\n").encode()
    r = upload(site, f"{BASE}/profiles/REG/preview", "sample.csv", sample, {}, "text/csv")
    assert r.status_code == 200, r.text
    result = r.text[r.text.index('id="preview-result"'):]
    assert "<th scope=\"row\">Shoe</th><td>(ignored)</td>" in result
    assert "<th scope=\"row\">Card</th><td>identifier.BARCODE" in result
    assert "<td>user_group</td><td>by name</td>" in result
    assert result.count("<td>readable</td>") == 4  # 5 rows shown, one rejected
    assert "Line 6" in result and "Line 7" not in result
    assert "BARCODE: C-1" in result and "UNDERGRAD" in result  # the profile's default group
    assert "NOPE" in result[result.index('id="preview-users"'):]  # the rejected row's reason
    assert site.container.sis.runs("MAIN") == []  # nothing run, nothing written


def test_csv_preview_names_missing_columns_and_what_the_profile_does(site: Site) -> None:
    site.sign_in("gsa")
    sample = b"Student ID,Given\ns1,Ann\n"
    r = upload(site, f"{BASE}/profiles/REG/preview", "s.csv", sample, {}, "text/csv")
    assert r.status_code == 200
    assert 'id="preview-missing"' in r.text and "Surname, Card" in r.text
    assert "a run would refuse the file" in r.text and 'id="preview-error"' in r.text
    profile = site.container.sis.profile("MAIN", "REG")
    profile.csv.missing_columns = "keep"
    site.container.sis.update_profile(profile)
    r = upload(site, f"{BASE}/profiles/REG/preview", "s.csv", sample, {}, "text/csv")
    assert "those fields would be kept as stored" in r.text
    assert 'id="preview-error"' not in r.text and "<td>readable</td>" in r.text
    bad = upload(site, f"{BASE}/profiles/REG/preview", "s.zip", b"PK\x03\x04junk", {})
    assert "zip archive" in bad.text
    none = site.client.post(f"{BASE}/profiles/REG/preview", data={"csrf_token": site.csrf()},
                            files={"file": ("", b"", "text/csv")})
    assert refused(none, 400) and "Choose a file" in none.text


# -- runs ----------------------------------------------------------------------------------


def _existing(site: Site) -> None:
    """s1 stored as a user of the profile REG (first name Ann)."""
    run_file(site, users_doc(user_xml("s1", first="Ann", barcode="B-1"),
                             user_xml("s2", first="Bo")), dry_run=False)


def test_upload_dry_run_report_drill_down_and_exports(site: Site) -> None:
    site.sign_in("gsa")
    _existing(site)
    site.container.users.create("MAIN", UserInput(User(
        "inside", first_name="In", last_name="Side", user_group="UNDERGRAD",
        identifiers=[Identifier("BARCODE", "B-in")])), "test")
    doc = users_doc(user_xml("s1", first="Anna", barcode="B-1", email="anna@example.org"),
                    user_xml("s2", first="Bo"), user_xml("s3", first="Cy"),
                    user_xml("inside", first="Nope"))
    run_id = run_file(site, doc, dry_run=True)
    page = site.client.get(f"{BASE}/runs/{run_id}").text
    assert "dry run: nothing was written" in page
    for bucket, n in (("create", 1), ("update", 1), ("unchanged", 1), ("reject", 1)):
        assert f'id="count-{bucket}">{n}<' in page, bucket
    updated = site.client.get(f"{BASE}/runs/{run_id}?kind=update").text
    assert "<strong>first_name</strong>: <del>Ann</del> → <ins>Anna</ins>" in updated
    assert "anna@example.org" in updated and "removed <del>" in updated
    rejected = site.client.get(f"{BASE}/runs/{run_id}?kind=reject").text
    assert "inside" in rejected and "internal" in rejected.lower()
    assert site.container.users.get("MAIN", "s1").first_name == "Ann"  # a dry run
    with pytest.raises(Exception, match="s3"):
        site.container.users.get("MAIN", "s3")
    exported = site.client.get(f"{BASE}/runs/{run_id}/export?format=csv&kind=update")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].endswith(f'sis-run-{run_id}-update.csv"')
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["field"], r["old"], r["new"]) for r in table} >= {("first_name", "Ann", "Anna")}
    assert {r["action"] for r in table} == {"update"}
    lines = site.client.get(f"{BASE}/runs/{run_id}/export?format=jsonl").text.splitlines()
    items = [json.loads(line) for line in lines]
    assert sorted(i["action"] for i in items) == ["create", "reject", "unchanged", "update"]
    assert next(i for i in items if i["action"] == "update")["diff"]["first_name"] == [
        "Ann", "Anna"]
    assert refused(site.client.get(f"{BASE}/runs/{run_id}/export?format=xls"), 400)
    assert refused(site.client.get(f"{BASE}/runs/{run_id}?kind=everything"), 400)
    assert refused(site.client.get(f"{BASE}/runs/{run_id}?page=x"), 400)


def test_a_real_run_writes_with_the_staff_member_as_actor(site: Site) -> None:
    site.sign_in("useradmin")
    run_id = run_file(site, users_doc(user_xml("s9", first="Di")), dry_run=False,
                      mode="import")
    report = site.container.sis.report(run_id)
    assert (report.status, report.mode.value, report.counts["create"]) == ("done", "import", 1)
    assert site.container.users.get("MAIN", "s9").external_id == "REG"
    history = site.client.get("/staff/users/s9?tab=history").text
    assert "staff:useradmin" in history
    runs = site.client.get(f"{BASE}/runs").text
    assert f'href="{BASE}/runs/{run_id}"' in runs and "users.xml" in runs
    created = site.client.get(f"{BASE}/runs/{run_id}?kind=create").text
    assert '<a href="/staff/users/s9">s9</a>' in created


def test_a_csv_file_runs_through_the_profile_mapping(site: Site) -> None:
    site.sign_in("gsa")
    data = b"Student ID,Surname,Given,Card\nc1,Lee,Ann,C-1\n"
    run_id = run_file(site, data, dry_run=False, name="students.csv")
    assert site.container.sis.report(run_id).counts["create"] == 1
    assert site.container.users.get("MAIN", "c1").identifiers[0].value == "C-1"


def test_bad_uploads_give_one_clear_sentence_and_no_run(site: Site, tmp_path: Path) -> None:
    site.sign_in("gsa")
    big = b"<users>" + b" " * (LIMIT + 1000) + b"</users>"
    r = upload(site, f"{BASE}/runs", "big.xml", big, {"profile": "REG", "mode": "synchronize"})
    assert refused(r, 413) and "larger than the limit" in r.text
    r = upload(site, f"{BASE}/runs", "u.xml", b"", {"profile": "REG", "mode": "synchronize"})
    assert refused(r, 400) and "Traceback" not in r.text
    doctype = b'<?xml version="1.0"?><!DOCTYPE users [<!ENTITY x "y">]><users/>'
    r = upload(site, f"{BASE}/runs", "u.xml", doctype, {"profile": "REG",
                                                      "mode": "synchronize"})
    assert refused(r, 400)
    r = upload(site, f"{BASE}/runs", "u.xml", users_doc(), {"profile": "NOPE",
                                                          "mode": "synchronize"})
    assert refused(r, 404)
    r = upload(site, f"{BASE}/runs", "u.xml", users_doc(), {"profile": "REG", "mode": "x"})
    assert refused(r, 400)
    assert site.container.sis.runs("MAIN") == []
    spool = tmp_path / "spool"
    assert not spool.exists() or [p.name for p in spool.iterdir()
                                  if not p.name.endswith(".lock")] == []


def test_an_interrupted_run_is_queued_again_from_its_page(site: Site, tmp_path: Path) -> None:
    c = site.container
    path = write_zip(tmp_path / "u.zip", {"users.xml": users_doc(user_xml("r1"))})
    pending = c.sis_jobs.create("MAIN", "REG", path, copy=True)
    assert pending.run_id is not None
    pending.status = RUNNING
    c.sis_jobs.store.finish_run(pending)
    c.sis_jobs.release(pending.run_id)  # as if the process running it had died
    site.sign_in("gsa")
    page = site.client.get(f"{BASE}/runs/{pending.run_id}").text
    assert 'id="run-status">interrupted<' in page and 'id="requeue"' in page
    r = site.post(f"{BASE}/runs/{pending.run_id}/requeue", {})
    assert r.status_code == 303
    drain(site)  # type: ignore[arg-type]
    assert c.sis.report(pending.run_id).status == "done"
    done = site.client.get(f"{BASE}/runs/{pending.run_id}").text
    assert 'id="requeue"' not in done
    again = site.post(f"{BASE}/runs/{pending.run_id}/requeue", {})
    assert refused(again, 400) and "only pending, running or interrupted" in again.text


def test_runs_of_another_institution_are_not_found(site: Site, tmp_path: Path) -> None:
    c = site.container
    c.add_institution("OTHER", "Other")
    c.sis.create_profile(Profile("REG", "OTHER"))
    path = write_zip(tmp_path / "o.zip", {"users.xml": users_doc(user_xml("o1"))})
    other = c.sis_jobs.create("OTHER", "REG", path, copy=True)
    c.sis_jobs.release(other.run_id or 0)
    site.sign_in("gsa")
    assert refused(site.client.get(f"{BASE}/runs/{other.run_id}"), 404)
    assert refused(site.client.get(f"{BASE}/runs/{other.run_id}/export"), 404)
    assert refused(site.post(f"{BASE}/runs/{other.run_id}/requeue", {}), 404)
    assert refused(site.client.get(f"{BASE}/runs/abc"), 404)


def test_the_runs_list_refreshes_itself_while_a_run_is_going(site: Site, tmp_path: Path) -> None:
    c = site.container
    path = write_zip(tmp_path / "p.zip", {"users.xml": users_doc(user_xml("p1"))})
    pending = c.sis_jobs.create("MAIN", "REG", path, copy=True)  # owned here: stays pending
    site.sign_in("gsa")
    full = site.client.get(f"{BASE}/runs").text
    assert 'hx-trigger="every 3s"' in full and 'id="refresh"' in full  # a link without JS
    part = site.client.get(f"{BASE}/runs", headers={"HX-Request": "true"}).text
    assert part.startswith('<div id="runs-box" hx-get=') and "<html" not in part
    summary = site.client.get(f"{BASE}/runs/{pending.run_id}",
                              headers={"HX-Request": "true"}).text
    assert summary.startswith('<div id="run-summary" hx-get=') and "pending" in summary
    c.sis_jobs.release(pending.run_id or 0)
    c.sis_jobs.requeue(pending.run_id or 0)
    drain(site)  # type: ignore[arg-type]
    done = site.client.get(f"{BASE}/runs", headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in done and ">done<" in done  # polling stops
