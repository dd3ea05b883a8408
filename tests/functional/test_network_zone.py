"""Network Zone through the API (``/bookplate/v1/network/zone``, SQLite and PostgreSQL) and
the CLI (``bookplate network zone``): the central (OTHER) keeps the user, the member (MAIN)
copies it; bad input everywhere answers a clear error in the caller's format, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from bookplate.bootstrap import build_container
from bookplate.config import get_settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import Identifier, User, UserInput
from tests.functional.conftest import Api
from tests.functional.test_cli import database, run  # noqa: F401 (the fixture)
from tests.functional.test_network_links import source_user
from tests.functional.test_users_api import error_code

ZONE = "/bookplate/v1/network/zone"


def _conf_key(api: Api, institution: str) -> str:
    _, key = api.container.keys.create(institution, "zone", parse_areas(["conf:rw"]), 1000)
    return key


def test_the_central_sets_up_its_zone_and_a_member_copies_a_user(api: Api) -> None:
    central, member = _conf_key(api, "OTHER"), _conf_key(api, "MAIN")
    source_user(api)
    assert api.client.get(ZONE, headers=api.h(member)).json() == {"central": None,
                                                                  "members": []}
    r = api.client.put(ZONE, json={"central": "MAIN"}, headers=api.h(central))
    assert r.status_code == 403, r.text  # OTHER cannot make MAIN central
    r = api.client.put(ZONE, json={"central": "OTHER"}, headers=api.h(central))
    assert r.status_code == 200 and r.json()["central"] == "OTHER", r.text
    r = api.client.put(f"{ZONE}/members/MAIN", headers=api.h(member))
    assert r.status_code == 403, r.text  # only the central adds members
    r = api.client.put(f"{ZONE}/members/MAIN", headers=api.h(central))
    assert r.json() == {"central": "OTHER", "members": ["MAIN"]}, r.text
    r = api.client.post(f"{ZONE}/copies/BC-walker", headers=api.h())  # MAIN's users:rw key
    assert r.status_code == 200, r.text
    copy_ = r.json()
    assert (copy_["primary_id"], copy_["source_institution_code"]) == ("walker", "OTHER")
    assert copy_["account_type"]["value"] == "EXTERNAL"
    assert {e["segment_type"] for e in copy_["contact_info"]["email"]} == {"External"}
    r = api.client.post(f"{ZONE}/copies/walker", headers=api.h())
    assert r.status_code == 400 and error_code(r) == "60227"
    r = api.client.post(f"{ZONE}/copies/walker", headers=api.h(api.ro_key))
    assert r.status_code == 400 and error_code(r) == "UNAUTHORIZED", r.text
    # A member may leave; the central's configurers see the change.
    r = api.client.delete(f"{ZONE}/members/MAIN", headers=api.h(member))
    assert r.status_code == 200 and r.json()["members"] == []
    history = api.client.get("/bookplate/v1/network/history/walker", headers=api.h()).json()
    assert "network.zone_copy" in [h["action"] for h in history["history"]]


@pytest.mark.parametrize("payload", [
    {}, {"central": 5}, {"central": ""}, {"central": "x" * 65}, {"central": "A'; DROP--"},
    {"central": "OTHER", "extra": 1}, {"central": ["OTHER"]}, {"central": "NOPE"},
    {"central": "MA\u0000IN"},
])
def test_bad_zone_bodies_answer_400(api: Api, payload: dict[str, Any]) -> None:
    r = api.client.put(ZONE, json=payload, headers=api.h(_conf_key(api, "OTHER")))
    assert r.status_code in (400, 403), r.text
    assert error_code(r)
    assert api.container.network.zone().central is None


def test_bad_zone_paths_and_keys(api: Api) -> None:
    central = _conf_key(api, "OTHER")
    api.client.put(ZONE, json={"central": "OTHER"}, headers=api.h(central))
    for code in ("NOPE", "OTHER", "x" * 65, "A;B", "%00"):
        r = api.client.put(f"{ZONE}/members/{code}", headers=api.h(central))
        assert r.status_code in (400, 404, 422) and r.status_code != 500, (code, r.text)
    r = api.client.delete(f"{ZONE}/members/MAIN", headers=api.h(central))
    assert r.status_code == 400 and "not a member" in r.text
    # Keys without the Configuration area, or read-only: Alma's UNAUTHORIZED (400).
    r = api.client.get(ZONE, headers=api.h(api.ro_key))
    assert r.status_code == 400 and error_code(r) == "UNAUTHORIZED"
    r = api.client.put(ZONE, json={"central": None}, headers=api.h(api.conf_key))
    assert r.status_code == 400 and error_code(r) == "UNAUTHORIZED"
    assert api.client.get(ZONE, headers={"Authorization": "apikey bp_wrong"}).status_code \
        in (401, 403)
    r = api.client.post(f"{ZONE}/copies/walker", headers=api.h(api.key, json=False))
    assert r.status_code == 400 and error_code(r) == "40166411"  # MAIN is no member (JSON)
    api.client.put(f"{ZONE}/members/MAIN", headers=api.h(central))
    for user_id in ("nobody", "x" * 300, "wal%00ker", "' OR 1=1 --", "%E9t%E9"):
        r = api.client.post(f"{ZONE}/copies/{user_id}", headers=api.h())
        assert r.status_code == 400 and error_code(r) in ("60226", "40166411"), (user_id, r.text)


def _cli_user() -> None:
    c = build_container(get_settings(), migrate=True)
    try:
        c.users.create("C", UserInput(User(primary_id="zed", last_name="Ng",
                                           user_group="UNDERGRAD",
                                           identifiers=[Identifier("BARCODE", "Z1")])), "t")
    finally:
        c.close()


def test_the_zone_cli_and_its_bad_input(database: str) -> None:  # noqa: F811 (the fixture)
    for code in ("C", "M"):
        assert run("institutions", "add", code, code)[0] == 0
    _cli_user()
    assert run("network", "zone", "show")[1].startswith("central: none")
    code, out = run("network", "zone", "member-set", "M")
    assert code == 2 and "no central institution" in out
    assert run("network", "zone", "central", "C")[0] == 0
    code, out = run("network", "zone", "member-set", "M")
    assert code == 0 and "members: M" in out, out
    code, out = run("network", "zone", "copy", "M", "Z1")
    assert code == 0 and "Zone copy zed created in M" in out, out
    code, out = run("network", "zone", "copy", "M", "zed")
    assert code == 1 and "60227" in out
    for args in (("central",), ("central", "C", "--clear"), ("central", "NOPE"),
                 ("central", "M"), ("member-set", "C"), ("member-set", "x" * 100),
                 ("member-set", "A'; DROP TABLE users;--"), ("member-set", "M\x00"),
                 ("member-remove", "NOPE"), ("copy", "C", "zed"), ("copy", "M", "nobody"),
                 ("copy", "M", "z\x00ed"), ("copy", "NOPE", "zed"), ("copy", "M", "y" * 300)):
        code, out = run("network", "zone", *args)
        assert code == 2, (args, code, out)
        assert out.count("error:") == 1 and "Traceback" not in out, (args, out)
    assert run("network", "zone", "member-remove", "M")[0] == 0
    code, out = run("network", "zone", "central", "--clear")
    assert code == 0 and "central: none" in out
