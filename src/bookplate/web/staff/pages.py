"""How a staff page's route is declared: one decorator that says the page's method, address
and who may open it, over a plain function of the staff member, the request, the form (for a
POST) and the parts of the address.

Every staff page runs the same way (``common.page``: the sign-in check, the form's CSRF check
for a POST, the handler in a worker thread, refusals as the error pages), so the frame is
written here once and a route is only what differs: its address, its check, its body. ::

    @post_page(router, f"{BASE}/{{code}}", needs(Action.CONFIGURE))
    def edit_library(staff: Staff, request: Request, form: FormData, code: str) -> Response:
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bookplate.roles.model import Privilege
from bookplate.web.staff.common import Reader, Staff, page

#: Asked before the handler runs: raises (``Refused``, ``PermissionDenied``) to refuse.
Check = Callable[[Staff], object]
_H = TypeVar("_H", bound=Callable[..., Response])


def by_service(staff: Staff) -> None:
    """The check of a page whose service asks the policy itself, with the record or the
    profile at hand (a user's record, the sign-in profiles): nothing is asked before it."""


def holds(privilege: Privilege) -> Check:
    """The check of a page for the holders of ``privilege`` (``Staff.require``)."""
    return lambda staff: staff.require(privilege)


def get_page(router: APIRouter, path: str, check: Check) -> Callable[[_H], _H]:
    """Declares ``GET path``: ``handler(staff, request, **address parts)`` once ``check``
    lets the staff member in."""
    return _declare(router, "GET", path, check, None)


def post_page(router: APIRouter, path: str, check: Check,
              reader: Reader | None = None) -> Callable[[_H], _H]:
    """Declares ``POST path``: ``handler(staff, request, form, **address parts)`` with the
    form read by ``reader`` (the staff pages' ``read_form`` when None) after its CSRF
    check, once ``check`` lets the staff member in."""
    return _declare(router, "POST", path, check, reader)


def _declare(router: APIRouter, method: str, path: str, check: Check,
             reader: Reader | None) -> Callable[[_H], _H]:
    posted = method == "POST"

    def declare(handler: _H) -> _H:
        async def route(request: Request) -> Response:
            parts = dict(request.path_params)

            def impl(staff: Staff, form: FormData | None) -> Response:
                check(staff)
                if posted:
                    assert form is not None
                    return handler(staff, request, form, **parts)
                return handler(staff, request, **parts)

            return await page(request, impl, form=posted, reader=reader)

        route.__doc__ = handler.__doc__
        router.add_api_route(path, route, methods=[method], name=handler.__name__)
        return handler

    return declare
