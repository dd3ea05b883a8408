"""The staff web UI under ``/staff/`` (server-rendered; htmx only as an enhancement).

``install`` mounts the pages and the static files (htmx is served by Bookplate itself).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from bookplate.web.staff import home, record, registrations, roles_tab, search, segments
from bookplate.web.staff.admin import ROUTERS as ADMIN_ROUTERS
from bookplate.web.staff.cells import ENTRY_NAMES, SINGULAR, cells, headings
from bookplate.web.staff.common import templates

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI, date_format: str) -> None:
    templates.env.globals.update(date_format=date_format, cells=cells, headings=headings,
                                 singular=SINGULAR, entry_names=ENTRY_NAMES)
    # Order matters: the record page's ``/staff/users/{id}`` catches every path, so the
    # routes with a longer, fixed ending come first.
    for module in (home, search, registrations, roles_tab, segments, record):
        app.include_router(module.router)
    for router in ADMIN_ROUTERS:  # /staff/admin/...
        app.include_router(router)
    app.mount("/staff/static", StaticFiles(directory=str(STATIC)), name="staff-static")
