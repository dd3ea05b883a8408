"""Institutions of one deployment and the network-wide ID rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IdScope(StrEnum):
    """Where primary IDs and identifiers must be unique."""

    NETWORK = "network"  # across every institution of the deployment
    INSTITUTION = "institution"  # only within each institution


NETWORK_SCOPE_KEY = "*"


@dataclass(frozen=True, slots=True)
class Institution:
    code: str
    name: str


def uniqueness_scope(mode: IdScope, institution: str) -> str:
    """The value stored beside each ID; the database keeps (scope, value) unique."""
    return NETWORK_SCOPE_KEY if mode is IdScope.NETWORK else institution
