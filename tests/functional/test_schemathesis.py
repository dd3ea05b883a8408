"""Fuzz every operation of the API with schemathesis: no input may cause a server error.

The schema is Bookplate's own OpenAPI document (``bookplate.api.openapi.document()``); requests
go in-process to the ASGI app over a real SQLite file with institution MAIN and a
``users:rw`` + ``conf:ro`` key (sent as ``Authorization: apikey K``). The app is built once per
module so examples do not rebuild it. Examples are bounded (``MAX_EXAMPLES`` per operation) to
keep the file well under ~90 s on two cores.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from bookplate.api.app import create_app
from bookplate.api.openapi import document
from bookplate.bootstrap import build_container
from bookplate.config import Settings
from bookplate.keys.services import parse_areas
from bookplate.users.model import User, UserInput
from tests.pg import PG_URL, postgres_schema

MAX_EXAMPLES = 30

schema = schemathesis.openapi.from_dict(document())
# Valid and invalid inputs alike (wrong types, missing required parts, unexpected values).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


class Target:
    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.key = key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The app over SQLite, then over PostgreSQL (stricter: e.g. it refuses NUL in text)."""
    with contextlib.ExitStack() as stack:
        folder: Path = tmp_path_factory.mktemp("schemathesis")
        database_url = f"sqlite:///{folder}/bookplate.db"
        if request.param == "postgresql":
            if not PG_URL:
                pytest.skip("BOOKPLATE_TEST_POSTGRES_URL not set")
            database_url = stack.enter_context(postgres_schema("fuzz"))
        config = Settings(
            database_url=database_url,
            max_body_bytes=200_000,
            cache_seconds=0,
            redis_url=None,
        )
        container = build_container(config, migrate=True)
        stack.callback(container.close)
        container.add_institution("MAIN", "Main University")
        # The highest per-second threshold a key may have: no 429s for the fuzzer.
        _, key = container.keys.create(
            "MAIN", "fuzz", parse_areas(["users:rw", "conf:ro"]), 100_000
        )
        # The user named in the OpenAPI examples, so reads and updates reach a real record.
        container.users.create(
            "MAIN", UserInput(User("jdoe42", last_name="Doe", user_group="UNDERGRAD")), "fuzz"
        )
        yield Target(create_app(config, container), key)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_no_server_error(case: schemathesis.Case, target: Target) -> None:
    response = case.call(app=target.app, headers={"Authorization": f"apikey {target.key}"})
    STATUSES.setdefault(f"{case.method} {case.path}", []).append(response.status_code)
    case.validate_response(response, checks=[not_a_server_error])


STATUSES: dict[str, list[int]] = {}


def test_fuzzing_reached_success_paths() -> None:
    """The fuzz above must not only exercise errors: creates and reads have to succeed too."""
    if not STATUSES:
        pytest.skip("run together with test_no_server_error")
    assert 200 in STATUSES.get("POST /almaws/v1/users", []), STATUSES
    assert 200 in STATUSES.get("GET /almaws/v1/users/{user_id}", []), STATUSES
