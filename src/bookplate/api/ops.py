"""Operations: ``GET /health`` (the process answers), ``GET /ready`` (the database answers and
its schema is current), ``GET /metrics`` (Prometheus text format) and one log line per request
at info level (docs/operations.md).

Metrics: ``bookplate_http_requests_total{method,route,status}`` and
``bookplate_http_request_duration_seconds{method,route}`` counted by this process (``route`` is
the path template, e.g. ``/almaws/v1/users/{user_id}``, so IDs never become labels), and
``bookplate_sis_runs{institution,status}`` read from the database at each scrape, so it is the
same whichever worker answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookplate.api import deps
from bookplate.api.negotiation import JSON
from bookplate.bootstrap import Container

log = structlog.get_logger("bookplate.request")
router = APIRouter(tags=["Operations"])
QUIET = frozenset({"/health", "/ready", "/metrics"})  # probes: counted, not logged


class SisRuns(Collector):
    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "bookplate_sis_runs", "SIS runs by institution and status (latest 1000 each).",
            labels=["institution", "status"],
        )
        for (institution, status), count in sorted(self.container.sis_run_counts().items()):
            family.add_metric([institution, status], count)
        yield family


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self, container: Container) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bookplate_http_requests", "HTTP requests answered.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "bookplate_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.registry.register(SisRuns(container))


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestMetrics:
    """Pure ASGI: counts, times and logs each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - start
            route = _route(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status[0])).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            path = str(scope.get("path", ""))
            if path not in QUIET:
                log.info("request", method=method, path=path, route=route, status=status[0],
                         ms=round(elapsed * 1000, 1))


@router.get("/health", summary="Liveness: the process answers")
def health() -> Response:
    return Response(b'{"status":"ok"}', 200, media_type=JSON)


@router.get("/ready", summary="Readiness: the database answers and its schema is current")
async def ready(request: Request) -> Response:
    problem = await run_in_threadpool(deps.container(request).readiness)
    if problem is None:
        return Response(b'{"status":"ready"}', 200, media_type=JSON)
    body: dict[str, Any] = {"status": "not ready", "reason": problem}
    return Response(json.dumps(body).encode(), 503, media_type=JSON)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    found: Metrics = request.app.state.metrics
    text = await run_in_threadpool(generate_latest, found.registry)
    return Response(text, 200, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    found = Metrics(app.state.container)
    app.state.metrics = found
    app.add_middleware(RequestMetrics, metrics=found)
    app.include_router(router)
