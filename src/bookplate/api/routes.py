"""Every router of the API, in one list, for the app and for the exported OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from bookplate.api import auth
from bookplate.api.almaws import conf, fulfilment, users
from bookplate.api.v1 import accounts, network, roles, sis, zone

# auth comes first: its /users/ME and /users/staff-login-report must win over /users/{id}, and
# so must fulfilment's /users/{id}/loans and the other sub-resources.
ROUTERS: tuple[APIRouter, ...] = (
    auth.router, fulfilment.router, users.router, conf.router, roles.router, sis.router,
    accounts.router, zone.router, network.router,
)
