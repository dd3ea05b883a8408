"""Errors of API-key checks (SPEC sections 2.1-2.3)."""

from __future__ import annotations

from bookplate.errors import AccessError, InputError, NotFoundError


class InvalidApiKey(AccessError):
    """No key, an unknown key or a revoked key."""

    def __init__(self) -> None:
        super().__init__("API-key not defined or not configured to allow this API.")


class AreaNotAllowed(AccessError):
    """A valid key without the area, or read-only where the call writes."""

    def __init__(self, area: str, write: bool) -> None:
        self.area = area
        self.write = write
        super().__init__("API-key not defined or not configured to allow this API.")


class PerSecondThreshold(AccessError):
    def __init__(self) -> None:
        super().__init__("HTTP requests are more than allowed per second. Retry after a second.")


class DailyThreshold(AccessError):
    """The institution's calls for the day are used up (Alma's DAILY_THRESHOLD, HTTP 429)."""

    def __init__(self) -> None:
        super().__init__(
            "Daily API request threshold has been reached. Calls are allowed again after "
            "midnight UTC."
        )


class KeyNotFound(NotFoundError):
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"No API key {key_id[:64]}.")


class InvalidKeyInput(InputError):
    """A name, area or limit a key cannot have (the same sentence on the page and the CLI)."""
