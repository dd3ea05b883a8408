"""Bookplate: library user management that speaks the Alma Users API."""

__version__ = "0.1.0"
