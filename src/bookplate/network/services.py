"""Fulfillment networks: partners and their rules, linked accounts, their refresh (on request
and live, through the outbox), and the network-wide ID rule.

Every way in (Alma API with an API key, staff CLI, the outbox worker) goes through
``NetworkService``, and every write of a user goes through ``UserService`` (``create_in`` /
``store_in``), so the record rules hold whatever the path. Each job lives in its own module,
mixed in here: ``partners`` (partners, rules, member settings), ``sources`` (the home side),
``linking`` (links and refresh on request), ``refresh`` (the outbox), ``pushes`` (to
copies on other deployments), ``host_blocks`` (a host's blocks reaching the home account),
``zone`` (Network Zone central management), ``scope`` (the ID rule).
See docs/networks.md.
"""

from __future__ import annotations

from bookplate.network.base import (
    LIVE_ACTOR,
    NetworkBase,
    NetworkUowFactory,
    PushBody,
    RemoteSources,
    SourceRecord,
)
from bookplate.network.partners import PartnerSettings
from bookplate.network.pushes import PushDelivery
from bookplate.network.refresh import OutboxRefresh
from bookplate.network.scope import IdScopeRule
from bookplate.network.settings import apply_partner_changes, password_hash

__all__ = [
    "LIVE_ACTOR",
    "NetworkBase",
    "NetworkService",
    "NetworkUowFactory",
    "PushBody",
    "RemoteSources",
    "SourceRecord",
    "apply_partner_changes",
    "password_hash",
]


class NetworkService(PartnerSettings, OutboxRefresh, PushDelivery, IdScopeRule):
    """The one entry point of the faces (Alma API, Bookplate API, CLI, the worker)."""
