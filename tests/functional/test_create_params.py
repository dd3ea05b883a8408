"""``POST /almaws/v1/users`` query parameters (read by the route itself, not by FastAPI): good
values create the user, bad ones answer Alma's error and write nothing."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Api
from tests.functional.test_users_api import body, error_code


def post(api: Api, query: str, primary_id: str) -> object:
    return api.client.post(f"/almaws/v1/users{query}", json=body(primary_id), headers=api.h())


def exists(api: Api, primary_id: str) -> bool:
    r = api.client.get(f"/almaws/v1/users/{primary_id}", headers=api.h())
    return r.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?social_authentication=false",
        "?send_pin_number_letter=TRUE",
        "?registration_rules=true&send_pin_number_letter=false",
        "?social_authentication=",
        "?source_institution_code=&source_user_id=",
    ],
)
def test_accepted_parameters_create(api: Api, query: str) -> None:
    r = post(api, query, "okuser")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert r.json()["primary_id"] == "okuser"  # type: ignore[attr-defined]
    assert exists(api, "okuser")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?social_authentication=yes", "40166411"),
        ("?send_pin_number_letter=1", "40166411"),
        ("?registration_rules=maybe", "40166411"),
        ("?social_authentication=true&social_authentication=nope", "40166411"),
        ("?source_institution_code=OTHER", "401651"),
        ("?source_user_id=someone", "401651"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_written(api: Api, query: str, code: str) -> None:
    r = post(api, query, "baduser")
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert error_code(r) == code
    assert not exists(api, "baduser")
