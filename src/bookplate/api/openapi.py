"""The API's OpenAPI document, built without a database (for docs/api/ and schemathesis)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bookplate import __version__
from bookplate.api.routes import ROUTERS

_ERROR_JSON = {
    "type": "object",
    "description": "Alma's error envelope (errorCode is always a string, error always a list).",
    "required": ["errorsExist", "errorList"],
    "properties": {
        "errorsExist": {"type": "boolean"},
        "errorList": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "errorCode": {"type": "string"},
                            "errorMessage": {"type": "string"},
                            "trackingId": {"type": "string"},
                        },
                    },
                }
            },
        },
        "result": {"nullable": True},
    },
}
_ERROR_XML = {
    "type": "string",
    "description": "<web_service_result> in the xmlbeans namespace, with the same members.",
}
_ERRORS = {
    "400": "Invalid input or a business rule (Alma answers not-found with 400 too)",
    "404": "No such route",
    "413": "The request body is larger than the limit",
    "429": "Over the API key's calls per second (PER_SECOND_THRESHOLD)",
}
_ALMA_PREFIXES = ("/almaws/", "/primo/")


def _document_answers(spec: dict[str, Any]) -> None:
    """Every operation's error answers (Alma's envelope, JSON or XML), the 412 of a PUT with
    If-Match, and the XML form of the Users API's answers, which routes build themselves."""
    spec["components"].setdefault("schemas", {})["AlmaError"] = _ERROR_JSON
    ref = {"$ref": "#/components/schemas/AlmaError"}
    for path, item in spec.get("paths", {}).items():
        alma = path.startswith(_ALMA_PREFIXES)
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # bad parameters answer 400 in Alma's envelope
            content: dict[str, Any] = {"application/json": {"schema": ref}}
            if alma:
                content["application/xml"] = {"schema": _ERROR_XML}
            for status, text in _ERRORS.items():
                if status == "413" and "requestBody" not in operation:
                    continue
                responses.setdefault(status, {"description": text, "content": content})
            if method == "put" and path == "/almaws/v1/users/{user_id}":
                responses.setdefault(
                    "412",
                    {"description": "If-Match names a version that is no longer stored",
                     "content": content},
                )
            if alma:
                for status, answer in responses.items():
                    if status.startswith("2") and "content" in answer:
                        answer["content"].setdefault(
                            "application/xml", {"schema": {"type": "string"}}
                        )


def document() -> dict[str, Any]:
    app = FastAPI(
        title="Bookplate",
        version=__version__,
        description="Library user management that speaks the Alma Users API.",
    )
    for router in ROUTERS:
        app.include_router(router)
    spec = app.openapi()
    spec["components"] = spec.get("components", {})
    spec["components"]["securitySchemes"] = {
        "ApiKeyAuth": {"type": "apiKey", "in": "query", "name": "apikey"},
        "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "Authorization"},
    }
    spec["security"] = [{"ApiKeyAuth": []}, {"ApiKeyHeader": []}]
    _document_answers(spec)
    return spec
