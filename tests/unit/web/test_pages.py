"""The staff pages' route declarations (``web/staff/pages.py``): what a decorator registers,
and that a page cannot be declared open to nobody by mistake."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bookplate.roles.policy import Action
from bookplate.web.staff.admin.common import needs
from bookplate.web.staff.common import Staff
from bookplate.web.staff.pages import by_service, get_page, post_page


def test_each_decorator_registers_one_route_in_order_and_keeps_the_handler() -> None:
    router = APIRouter()

    def show(staff: Staff, request: Request, code: str) -> Response:
        raise AssertionError("not called here")

    def change(staff: Staff, request: Request, form: FormData, code: str) -> Response:
        """Changes it."""
        raise AssertionError("not called here")

    assert get_page(router, "/x/{code}", by_service)(show) is show
    assert post_page(router, "/x/{code}", needs(Action.CONFIGURE))(change) is change
    routes = [(r.path, r.methods, r.name) for r in router.routes]  # type: ignore[attr-defined]  # typed BaseRoute
    assert routes == [("/x/{code}", {"GET"}, "show"), ("/x/{code}", {"POST"}, "change")]
    assert router.routes[1].endpoint.__doc__ == "Changes it."  # type: ignore[attr-defined]  # typed BaseRoute


def test_a_page_needs_at_least_one_action() -> None:
    with pytest.raises(ValueError, match="at least one action"):
        needs()
