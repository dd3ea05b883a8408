"""Every Alma error code the API answers comes from the one table in ``api/errors.py``
(issue 15 item 6): the areas raise typed errors, no route fixes a code itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bookplate.api import errors as api_errors
from bookplate.errors import BookplateError
from bookplate.roles.errors import NotStaff
from bookplate.users import errors as user_errors

SRC = Path(__file__).resolve().parents[3] / "src" / "bookplate"

# An Alma code as a string literal: a run of digits (401861, 4019990, 40166411) or one of the
# upper-case names the table uses (FORBIDDEN, NOT_FOUND, UNAUTHORIZED ...).
_CODE = re.compile(r"""["'](?:4\d{5,7}|60101|500038|FORBIDDEN|NOT_FOUND|UNAUTHORIZED)["']""")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (user_errors.UserNotFound("x"), 400, "401861"),
        (user_errors.user_not_found("x", None), 400, "401861"),
        (user_errors.user_not_found("x", "BARCODE"), 400, "401890"),
        (user_errors.SourceUserNotFound("x", "OTHER"), 400, "4019990"),
        (user_errors.CodeTableNotFound("UserGroups"), 400, "40166410"),
        (user_errors.InvalidParameterValue("kind", "odd"), 400, "40166411"),
        (user_errors.ActionNotSupported("op=x"), 400, "401859"),
        (NotStaff("Capabilities"), 403, "FORBIDDEN"),
        (api_errors.UnreadableJson(), 400, "401676"),
        (api_errors.PasswordCheckFailed(), 400, "401866"),
        (api_errors.InstitutionNotFound("NOPE"), 404, "NOT_FOUND"),
    ],
)
def test_the_table_maps_each_typed_error(error: BookplateError, status: int, code: str) -> None:
    assert api_errors.lookup(error) == api_errors.Mapping(status, code)


def test_messages_stay_as_the_routes_worded_them() -> None:
    assert str(user_errors.user_not_found("x", "BARCODE")) == (
        "User with identifier x of type BARCODE was not found."
    )
    assert str(user_errors.InvalidParameterValue("kind", "odd")) == (
        "The parameter kind is invalid: odd."
    )
    assert str(api_errors.PasswordCheckFailed()) == "User authentication failed"


def test_no_face_module_names_an_alma_code() -> None:
    faces = [*sorted((SRC / "api").rglob("*.py")), *sorted((SRC / "web").rglob("*.py"))]
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in faces
        if path != SRC / "api" / "errors.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _CODE.search(line) or "ApiError(" in line
    ]
    assert offenders == []
