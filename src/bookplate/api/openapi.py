"""The API's OpenAPI document, built without a database (for docs/api/ and schemathesis)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bookplate import __version__
from bookplate.api.routes import ROUTERS


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
    return spec
