"""``bookplate sandbox reset`` (and the reset API) return the whole institution to the seed
state -- users, code tables, the user-group map, libraries and desks, role profiles and rules,
restricted settings, SIS profiles, network and sign-in settings, API keys -- checked by the
institution's digest, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookplate.api.app import create_app
from bookplate.auth.model import Method
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.roles.model import Library, ProfileRole, RestrictedSettings, RoleProfile
from bookplate.sandbox.population import INSTITUTION, SIS_PROFILE
from bookplate.sis.model import Profile
from bookplate.users.ports import CodeRow
from tests.functional.test_users_api import error_code

N = 12
SEED = 4


def _container(url: str, **settings: Any) -> Container:
    return build_container(
        Settings(database_url=url, cache_seconds=0, redis_url=None, **settings), migrate=True
    )


def _fresh(c: Container) -> str:
    """What `bookplate sandbox` makes of an empty institution: the seed and its key."""
    c.sandbox.reset(INSTITUTION, N, SEED)
    return c.sandbox.issue_key(INSTITUTION, 10)


@pytest.fixture
def c(database_url: str) -> Iterator[Container]:
    container = _container(database_url)
    try:
        yield container
    finally:
        container.close()


def _change_everything(c: Container) -> None:
    codes = c.code_tables
    codes.put(None, "t", INSTITUTION, "UserGroups", CodeRow("RETIRED", "Retired"), ["PUBLIC"])
    codes.put(None, "t", INSTITUTION, "Genders", CodeRow("FEMALE", "Changed text"))
    codes.put(None, "t", INSTITUTION, "UserGroups", CodeRow("GRAD", "Grad", True, False),
              ["PUBLIC", "STAFF"])
    with c.uow_factory() as uow:
        uow.codes.remove_row(INSTITUTION, "UserGroups", "UNDERGRAD_NOT_THERE")
        uow.codes.describe_table(INSTITUTION, "Genders", "Genders, described")
        uow.commit()
    c.roles.put_library(INSTITUTION, Library("LAW", "Law", frozenset({"D1"})), "t")
    c.roles.put_library(
        INSTITUTION, Library.with_desks("MAIN_LIB", "Renamed", [], "", False), "t", exact=True
    )
    c.roles.put_profile(INSTITUTION, RoleProfile("LIBRARIAN", "Librarian", (ProfileRole("21"),)),
                        "t")
    c.roles.set_restricted(INSTITUTION, RestrictedSettings(frozenset({"GRAD"})), "t")
    c.keys.create(INSTITUTION, "added later", parse_areas(["users:ro"]), 3)
    for key in c.keys.list(INSTITUTION):
        if key.name == "sandbox":
            c.keys.revoke(key.key_id)
    c.users.delete(INSTITUTION, "sb00003")


def test_reset_restores_configuration_keys_and_users(c: Container, tmp_path: Path) -> None:
    secret = _fresh(c)
    seeded = c.sandbox.digest(INSTITUTION)
    snapshot = c.sandbox.state.snapshot(INSTITUTION)
    _change_everything(c)
    assert c.sandbox.digest(INSTITUTION) != seeded
    changed = c.sandbox.state.snapshot(INSTITUTION)
    for table in ("code_rows", "code_tables", "libraries", "role_profiles",
                  "restricted_settings", "api_keys", "group_record_types"):
        assert changed[table] != snapshot[table], table  # each change is seen by the digest

    c.sandbox.reset(INSTITUTION, N, SEED)
    assert c.sandbox.state.snapshot(INSTITUTION) == snapshot
    assert c.sandbox.digest(INSTITUTION) == seeded
    # the seed's key works again; the one added later is gone
    assert c.keys.authenticate(secret).name == "sandbox"
    assert [k.name for k in c.keys.list(INSTITUTION)] == ["sandbox"]
    assert c.users.get(INSTITUTION, "sb00003").primary_id == "sb00003"

    # the same seed on a fresh database gives the same institution
    other = _container(f"sqlite:///{tmp_path}/fresh.db")
    try:
        _fresh(other)
        assert other.sandbox.digest(INSTITUTION) == seeded
    finally:
        other.close()


def test_a_new_session_key_replaces_the_last(c: Container) -> None:
    first = _fresh(c)
    digest = c.sandbox.digest(INSTITUTION)
    second = c.sandbox.issue_key(INSTITUTION, 10)
    assert c.keys.authenticate(second).name == "sandbox"
    with pytest.raises(Exception, match=r"(?i)key"):
        c.keys.authenticate(first)
    assert c.sandbox.digest(INSTITUTION) != digest  # the revoked key is seen
    c.sandbox.reset(INSTITUTION, N, SEED)
    assert c.sandbox.digest(INSTITUTION) == digest
    assert len(c.keys.list(INSTITUTION)) == 1


def test_other_institutions_are_untouched(c: Container) -> None:
    _fresh(c)
    c.add_institution("OTHER", "Other")
    c.code_tables.put(None, "t", "OTHER", "Genders", CodeRow("X1", "Kept"))
    _, other_key = c.keys.create("OTHER", "theirs", parse_areas(["users:ro"]))
    before = c.sandbox.state.snapshot("OTHER")
    c.sandbox.reset(INSTITUTION, N, SEED)
    assert c.sandbox.state.snapshot("OTHER") == before
    assert c.keys.authenticate(other_key).institution == "OTHER"


def test_the_reset_api_restores_the_seed_and_keeps_the_callers_key(database_url: str) -> None:
    c = _container(database_url, sandbox=True)
    try:
        _fresh(c)
        _, caller = c.keys.create(INSTITUTION, "ci", parse_areas(["users:rw"]), 1000)
        _, read_only = c.keys.create(INSTITUTION, "ro", parse_areas(["users:ro"]), 1000)
        c.code_tables.put(None, "t", INSTITUTION, "Genders", CodeRow("ADDED", "Added"))
        with TestClient(create_app(c.settings, c), raise_server_exceptions=False) as client:
            test = "/almaws/v1/users/operation/test"
            ro = {"Authorization": f"apikey {read_only}", "Accept": "application/json"}
            assert client.get(test, headers=ro).status_code == 200
            refused = client.post("/bookplate/v1/sandbox/reset",
                                  headers={"Authorization": f"apikey {read_only}"})
            assert error_code(refused) == "UNAUTHORIZED"
            r = client.post("/bookplate/v1/sandbox/reset", params={"users": N, "seed": SEED},
                            headers={"Authorization": f"apikey {caller}"})
            assert r.status_code == 200, r.text
            assert r.json()["digest"] == c.sandbox.digest(INSTITUTION)
            genders = client.get("/almaws/v1/users/operation/test",
                                 headers={"Authorization": f"apikey {caller}"})
            assert genders.status_code == 200  # the caller's key survives its reset
            gone = client.get(test, headers=ro)
            assert gone.status_code == 403 and error_code(gone) == "UNAUTHORIZED"  # removed
        names = sorted(k.name for k in c.keys.list(INSTITUTION))
        assert names == ["ci", "sandbox"]
        with c.uow_factory() as uow:
            assert "ADDED" not in {r.code for r in uow.codes.rows(INSTITUTION, "Genders")}
    finally:
        c.close()


# --- SIS profiles, network settings and sign-in profiles (issue 19) -------------------------

def _change_sis_profile(c: Container) -> None:
    seeded = c.sis.profile(INSTITUTION, SIS_PROFILE)
    c.sis.update_profile(replace(seeded, default_user_group="GRAD", expiry_days=30))


def _add_sis_profile(c: Container) -> None:
    c.sis.create_profile(Profile(code="SIS_NEW", institution=INSTITUTION))


def _change_member(c: Container) -> None:
    c.network.set_member(INSTITUTION, "t", search_password="partners-only", share_blocks=True)


def _add_partner(c: Container) -> None:
    c.add_institution("HOST", "Host College")
    c.network.put_partner(INSTITUTION, "HOST", {"user_group": "GRAD"}, "t")


def _add_remote_partner(c: Container) -> None:
    c.network.put_partner(INSTITUTION, "FAR", {"base_url": "https://far.example.org/almaws/v1",
                                               "api_key": "far-secret-key"}, "t")


def _add_signin_profile(c: Container) -> None:
    c.external.add(Method.CAS, INSTITUTION, "campus",
                   {"server_url": "https://cas.example.org/cas/",
                    "allowed_services": ["http://testserver/auth/cas/"]})


CHANGES = {
    "sis_profiles": [_change_sis_profile, _add_sis_profile],
    "network_members": [_change_member],
    "network_partners": [_add_partner, _add_remote_partner],
    "auth_profiles": [_add_signin_profile],
}


@pytest.mark.parametrize(("table", "change"), [
    (table, change) for table, changes in CHANGES.items() for change in changes
], ids=lambda v: v if isinstance(v, str) else v.__name__.strip("_"))
def test_reset_restores_sis_network_and_signin_settings(
    c: Container, table: str, change: Any
) -> None:
    _fresh(c)
    seeded = c.sandbox.digest(INSTITUTION)
    snapshot = c.sandbox.state.snapshot(INSTITUTION)
    methods = c.external.login_methods(INSTITUTION)
    member = c.network.member(INSTITUTION)
    change(c)
    changed = c.sandbox.state.snapshot(INSTITUTION)
    assert changed[table] != snapshot[table]  # the change is part of the fingerprint
    assert c.sandbox.digest(INSTITUTION) != seeded
    c.sandbox.reset(INSTITUTION, N, SEED)
    assert c.sandbox.state.snapshot(INSTITUTION) == snapshot
    assert c.sandbox.digest(INSTITUTION) == seeded
    # what the services answer agrees with the fingerprint
    assert c.sis.profile(INSTITUTION, SIS_PROFILE).default_user_group == "UNDERGRAD"
    assert [p.code for p in c.sis.profiles(INSTITUTION)] == [SIS_PROFILE]
    assert c.network.partners(INSTITUTION) == []
    assert c.network.member(INSTITUTION) == member
    assert c.external.login_methods(INSTITUTION) == methods
    with pytest.raises(Exception, match=r"(?i)campus|profile|not found"):
        c.external.profile(Method.CAS, "campus", INSTITUTION)


def test_partner_secrets_are_fingerprinted_not_kept(c: Container) -> None:
    _fresh(c)
    _add_remote_partner(c)
    first = c.sandbox.digest(INSTITUTION)
    text = repr(c.sandbox.state.snapshot(INSTITUTION))
    assert "far-secret-key" not in text
    c.network.put_partner(INSTITUTION, "FAR", {"api_key": "another-secret"}, "t")
    assert c.sandbox.digest(INSTITUTION) != first  # a changed secret is still a change


def test_a_reset_leaves_other_institutions_network_and_signin_settings(c: Container) -> None:
    _fresh(c)
    c.add_institution("OTHER", "Other")
    c.network.put_partner("OTHER", INSTITUTION, {"user_group": "GRAD"}, "t")
    c.sis.create_profile(Profile(code="THEIRS", institution="OTHER"))
    _add_signin_profile(c)
    c.external.add(Method.CAS, "OTHER", "theirs",
                   {"server_url": "https://cas.example.org/cas/",
                    "allowed_services": ["http://testserver/auth/cas/"]})
    before = c.sandbox.state.snapshot("OTHER")
    c.sandbox.reset(INSTITUTION, N, SEED)
    assert c.sandbox.state.snapshot("OTHER") == before
    assert [p.code for p in c.network.partners("OTHER")] == [INSTITUTION]
