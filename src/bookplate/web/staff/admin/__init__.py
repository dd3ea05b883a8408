"""The administration pages under ``/staff/admin/`` (docs/admin-ui.md): one module per page
group, on the staff pages' layout, sign-in, CSRF and 403 page (``web.staff.common``)."""

from __future__ import annotations

from fastapi import APIRouter

from bookplate.web.staff.admin import codes, libraries, sis

ROUTERS: tuple[APIRouter, ...] = (sis.router, codes.router, libraries.router)
