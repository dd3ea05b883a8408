"""Where a person lands after signing in: staff on the staff pages, patrons on their own page."""

from __future__ import annotations

from datetime import date

from bookplate.roles.policy import actor_for
from bookplate.roles.staff import capabilities
from bookplate.users.model import User

STAFF_HOME = "/staff/"
PATRON_HOME = "/me"  # patron self-service (web.patron)


def home_for(user: User, today: date) -> str:
    """``/staff/`` for someone holding any staff menu (the capabilities), else their page."""
    return STAFF_HOME if capabilities(actor_for(user, today))["menus"] else PATRON_HOME
