"""The administration pages under ``/staff/admin/`` (docs/admin-ui.md): one module per page
group, on the staff pages' layout, sign-in, CSRF and 403 page (``web.staff.common``)."""

from __future__ import annotations

from fastapi import APIRouter

from bookplate.web.staff.admin import (
    codes,
    keys,
    libraries,
    reports,
    restricted,
    role_pages,
    role_tester,
    signin,
    sis_profiles,
    sis_runs,
)

ROUTERS: tuple[APIRouter, ...] = (
    sis_profiles.router, sis_runs.router, codes.router, libraries.router, role_tester.router,
    restricted.router, role_pages.router, keys.router, reports.router,
    signin.router,
)
