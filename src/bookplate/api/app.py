"""The ASGI application: ``create_app()`` wires settings, storage and routes."""

from __future__ import annotations

import os
import time

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp

from bookplate import __version__, logs
from bookplate.api import errors, ops, sandbox
from bookplate.api.headers import SecurityHeaders
from bookplate.api.routes import ROUTERS
from bookplate.bootstrap import Container, build_container
from bookplate.config import Settings, get_settings
from bookplate.web import external as web_external
from bookplate.web import patron as web_patron
from bookplate.web import register as web_register
from bookplate.web import routes as web_routes
from bookplate.web import staff as web_staff
from bookplate.web import threads

log = structlog.get_logger("bookplate.api")


def _log_worker_life(app: FastAPI, began: float) -> None:
    """``worker_started`` once the worker serves (with how long its start took) and
    ``worker_stopping`` when it shuts down. A worker killed outright cannot say so: the
    supervisor logs its death (``bookplate serve``, docs/operations.md)."""

    def started() -> None:
        took = round(time.monotonic() - began, 2)
        log.info("worker_started", pid=os.getpid(), start_seconds=took)

    def stopping() -> None:
        log.info("worker_stopping", pid=os.getpid())

    app.router.on_startup.append(started)
    app.router.on_shutdown.append(stopping)


class BookplateApp(FastAPI):
    """FastAPI with the security headers outside everything else, so that the 500 answer
    Starlette's outermost error middleware writes carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    began = time.monotonic()
    settings = settings or (container.settings if container else get_settings())
    logs.configure(settings.log_level, settings.log_json)
    app = BookplateApp(
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
    web_staff.install(app, settings.staff_date_format)  # the staff pages under /staff/
    _log_worker_life(app, began)
    app.include_router(web_patron.router)  # patron self-service at /me
    app.include_router(web_register.router)  # self-registration (off unless switched on)
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory bookplate.api.app:app_factory``."""
    return create_app()
