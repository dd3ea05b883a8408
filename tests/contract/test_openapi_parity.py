"""Our OpenAPI document against Ex Libris' own description of the Users API.

Reference: ``<repo>/../shared/alma/samples/ref-alma-users-openapi-3.0.1.json`` (Ex Libris'
published spec, via ugent-library/exlibris-alma-sdk). For every reference operation Bookplate
implements, the path and method must exist in ours and every query parameter of the reference
must be accepted (same name, ``in: query``). Reference operations not built yet are listed in
``NOT_IMPLEMENTED``; implementing one fails ``test_not_implemented_list_is_exact`` until it is
moved to ``IMPLEMENTED``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bookplate.api.openapi import document

REFERENCE = "ref-alma-users-openapi-3.0.1.json"
METHODS = ("get", "put", "post", "delete", "patch")

IMPLEMENTED = {
    ("GET", "/almaws/v1/users"),
    ("POST", "/almaws/v1/users"),
    ("GET", "/almaws/v1/users/{user_id}"),
    ("PUT", "/almaws/v1/users/{user_id}"),
    ("DELETE", "/almaws/v1/users/{user_id}"),
    ("POST", "/almaws/v1/users/{user_id}"),
    ("GET", "/almaws/v1/users/operation/test"),
    ("POST", "/almaws/v1/users/operation/test"),
    ("GET", "/almaws/v1/users/ME"),
    ("GET", "/almaws/v1/users/staff-login-report"),
    # The fulfilment sub-resources (api/almaws/fulfilment.py): lists answer empty, entries
    # not found, writes 401859 (Bookplate holds no loans, requests, fees, deposits or
    # purchase requests).
    ("GET", "/almaws/v1/users/{user_id}/deposits"),
    ("POST", "/almaws/v1/users/{user_id}/deposits"),
    ("GET", "/almaws/v1/users/{user_id}/deposits/{deposit_id}"),
    ("POST", "/almaws/v1/users/{user_id}/deposits/{deposit_id}"),
    ("GET", "/almaws/v1/users/{user_id}/fees"),
    ("POST", "/almaws/v1/users/{user_id}/fees"),
    ("POST", "/almaws/v1/users/{user_id}/fees/all"),
    ("GET", "/almaws/v1/users/{user_id}/fees/{fee_id}"),
    ("POST", "/almaws/v1/users/{user_id}/fees/{fee_id}"),
    ("GET", "/almaws/v1/users/{user_id}/loans"),
    ("POST", "/almaws/v1/users/{user_id}/loans"),
    ("GET", "/almaws/v1/users/{user_id}/loans/{loan_id}"),
    ("POST", "/almaws/v1/users/{user_id}/loans/{loan_id}"),
    ("PUT", "/almaws/v1/users/{user_id}/loans/{loan_id}"),
    ("GET", "/almaws/v1/users/{user_id}/purchase-requests"),
    ("POST", "/almaws/v1/users/{user_id}/purchase-requests"),
    ("GET", "/almaws/v1/users/{user_id}/purchase-requests/{purchase_request_id}"),
    ("POST", "/almaws/v1/users/{user_id}/purchase-requests/{purchase_request_id}"),
    ("GET", "/almaws/v1/users/{user_id}/requests"),
    ("POST", "/almaws/v1/users/{user_id}/requests"),
    ("DELETE", "/almaws/v1/users/{user_id}/requests/{request_id}"),
    ("GET", "/almaws/v1/users/{user_id}/requests/{request_id}"),
    ("POST", "/almaws/v1/users/{user_id}/requests/{request_id}"),
    ("PUT", "/almaws/v1/users/{user_id}/requests/{request_id}"),
    ("POST", "/almaws/v1/users/{user_id}/resource-sharing-requests"),
    ("DELETE", "/almaws/v1/users/{user_id}/resource-sharing-requests/{request_id}"),
    ("GET", "/almaws/v1/users/{user_id}/resource-sharing-requests/{request_id}"),
    ("POST", "/almaws/v1/users/{user_id}/resource-sharing-requests/{request_id}"),
}

# Deliberately not implemented yet (docs/alma-compatibility.md, "Not built yet"): attachments,
# GDPR export and Leganto.
NOT_IMPLEMENTED = {
    ("POST", "/almaws/v1/users/{user_id}/attachments"),
    ("GET", "/almaws/v1/users/{user_id}/attachments/{attachment_id}"),
    ("GET", "/almaws/v1/users/{user_id}/personal-data"),
    ("GET", "/almaws/v1/users/{user_name}/leganto-notifications"),
}

# Ours but not in the Users reference: the Configuration API's code tables, libraries and
# circulation desks.
OURS_ONLY = {
    ("GET", "/almaws/v1/conf/code-tables"),
    ("GET", "/almaws/v1/conf/code-tables/{code_table_name}"),
    ("GET", "/almaws/v1/conf/libraries"),
    ("GET", "/almaws/v1/conf/libraries/{library_code}/circ-desks"),
    # Alma answers this list too, though the Users reference file lacks it.
    ("GET", "/almaws/v1/users/{user_id}/resource-sharing-requests"),
}


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    }


def _params(spec: dict[str, Any], op: dict[str, Any], where: str) -> set[str]:
    out = set()
    for raw in op.get("parameters", []):
        param = raw
        if "$ref" in raw:
            param = spec["components"]["parameters"][raw["$ref"].rsplit("/", 1)[-1]]
        if param["in"] == where:
            out.add(param["name"])
    return out


@pytest.fixture(scope="module")
def reference(samples: Path) -> dict[str, Any]:
    return dict(json.loads((samples / REFERENCE).read_bytes()))


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return document()


def test_not_implemented_list_is_exact(reference: dict[str, Any], ours: dict[str, Any]) -> None:
    ref_ops = set(_operations(reference))
    our_ops = set(_operations(ours))
    assert ref_ops == IMPLEMENTED | NOT_IMPLEMENTED
    assert not IMPLEMENTED & NOT_IMPLEMENTED
    assert not NOT_IMPLEMENTED & our_ops, "implemented now: move it to IMPLEMENTED"
    # Bookplate's own API lives under /bookplate/ and is not part of the comparison.
    almaws = {op for op in our_ops if op[1].startswith("/almaws/")}
    assert almaws - ref_ops == OURS_ONLY


@pytest.mark.parametrize("operation", sorted(IMPLEMENTED))
def test_operation_exists_with_reference_parameters(
    reference: dict[str, Any], ours: dict[str, Any], operation: tuple[str, str]
) -> None:
    ref_op = _operations(reference)[operation]
    our_ops = _operations(ours)
    assert operation in our_ops, operation
    our_op = our_ops[operation]
    missing = _params(reference, ref_op, "query") - _params(ours, our_op, "query")
    assert not missing, f"{operation}: query parameters not accepted: {sorted(missing)}"
    assert _params(reference, ref_op, "path") == _params(ours, our_op, "path")


def test_published_document_matches_the_code(ours: dict[str, Any]) -> None:
    """docs/api/openapi.json is regenerated (``bookplate openapi --out``) when the API changes."""
    published = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
    assert json.loads(published.read_text(encoding="utf-8")) == ours, (
        "docs/api/openapi.json is stale: run `bookplate openapi --out docs/api/openapi.json`"
    )
