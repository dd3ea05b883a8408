"""Bookplate's own API under /bookplate/v1 (JSON): what Alma's API has no place for."""
