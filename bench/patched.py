"""EXPERIMENT ONLY: the app with the src/ fixes proposed in docs/benchmarks.md applied as
monkeypatches, to measure their gain before they are made in src/. Not used by default.

    BENCH_APP=patched .venv/bin/python bench/api.py --reuse ...

1. ``UserService.code_book`` answers from ``CodeBookCache`` without opening a unit of work
   (today every request checks a connection out of the pool, with a pre-ping, only to find
   the book in the cache).
2. No ``pool_pre_ping`` (one round trip on every checkout).
3. Reads (``UserService.get`` / ``search``) run on an AUTOCOMMIT connection: no BEGIN and
   ROLLBACK round trips around their statements.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI

from bookplate import bootstrap
from bookplate.api.app import create_app
from bookplate.config import get_settings
from bookplate.storage import engine as engine_module
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users import services

_make_engine = engine_module.make_engine


def _engine_without_ping(url: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("pool_pre_ping", False)
    return _make_engine(url, **kwargs)


_code_book = services.UserService.code_book


def _cached_code_book(self: Any, institution: str) -> Any:
    cached = self.codes._books.get(institution)
    if cached is not None and time.monotonic() - cached[0] < self.codes.ttl:
        return cached[1]
    return _code_book(self, institution)


def app_factory() -> FastAPI:
    bootstrap.make_engine = _engine_without_ping  # type: ignore[assignment]
    services.UserService.code_book = _cached_code_book  # type: ignore[method-assign]
    app = create_app(get_settings())
    container = app.state.container
    reader = container.engine.execution_options(isolation_level="AUTOCOMMIT")
    users = container.users
    write_factory = users._uow_factory

    def get(institution: str, user_id: str, id_type: str = services.ALL_UNIQUE) -> Any:
        with SqlUnitOfWork(reader) as uow:
            return users._find(uow, institution, user_id, id_type)

    def search(search: Any) -> Any:
        with SqlUnitOfWork(reader) as uow:
            return uow.users.search(search)

    users.get = get
    users.search = search
    users._uow_factory = write_factory
    return app
