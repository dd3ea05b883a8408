"""The ASGI application: ``create_app()`` wires settings, storage and routes."""

from __future__ import annotations

from fastapi import FastAPI

from bookplate import __version__, logs
from bookplate.api import errors, ops, sandbox
from bookplate.api.routes import ROUTERS
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings, get_settings
from bookplate.web import external as web_external
from bookplate.web import routes as web_routes
from bookplate.web import threads


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else get_settings())
    logs.configure(settings.log_level, settings.log_json)
    app = FastAPI(
        title="Bookplate",
        version=__version__,
        description="Library user management that speaks the Alma Users API.",
        docs_url="/docs" if settings.api_docs else None,
        redoc_url=None,
    )
    app.state.container = container or build_container(settings)
    errors.install(app)
    threads.install(app, settings.worker_threads, settings.sign_in_threads)
    for router in ROUTERS:
        app.include_router(router)
    sandbox.install(app, settings)  # X-Exl-Api-Remaining, injected faults, reset (sandbox)
    ops.install(app)  # /health, /ready, /metrics and the request log (outermost)
    app.include_router(web_routes.router)  # sign-in pages (not in the OpenAPI document)
    app.include_router(web_external.router)  # LDAP/SAML/CAS/OIDC sign-in (not in OpenAPI)
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory bookplate.api.app:app_factory``."""
    return create_app()
