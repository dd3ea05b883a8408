"""Thread pools of a worker process.

FastAPI runs every ``def`` handler in anyio's default thread pool (40 threads). Under load
those threads and the event loop take turns at the interpreter lock, and the slowest
requests wait many times the median. With as many threads as there is useful overlap
(one computing, one waiting on the database) requests queue in arrival order in the event
loop instead, which keeps the p99 close to the median (docs/benchmarks.md).

Handlers that wait on another server — LDAP, SAML, CAS and OIDC sign-ins, mail — would hold
those few threads for up to their timeouts, so they run in a pool of their own
(``run_sign_in``).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request

T = TypeVar("T")


def install(app: FastAPI, worker_threads: int, sign_in_threads: int) -> None:
    """Size the pools when the worker's event loop starts (a limiter belongs to its loop)."""

    def start() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = worker_threads
        app.state.sign_in_limiter = anyio.CapacityLimiter(sign_in_threads)
        # Everything built so far (routes, code, caches) lives as long as the process: keep
        # it out of the collector's full passes, which otherwise pause a request now and then.
        gc.collect()
        gc.freeze()

    app.router.on_startup.append(start)


async def run_sign_in(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in the sign-in pool (the default pool when the app was not started
    through its lifespan, as in some tests)."""
    limiter = getattr(request.app.state, "sign_in_limiter", None)
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=limiter)
