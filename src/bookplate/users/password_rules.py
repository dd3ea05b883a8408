"""The password rule of every path that sets a password (API, web, reset links): length, not
the user name, not a common password. Pure but for zxcvbn's frequency list (its data only)."""

from __future__ import annotations

from functools import lru_cache

from bookplate.users.errors import PasswordRejected
from bookplate.users.model import normalise_id

# A short list of passwords nobody may use; the auth issue may extend it from a file.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "qwerty123",
        "iloveyou",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "letmein1",
        "abc12345",
        "11111111",
        "00000000",
        "passw0rd",
        "library1",
        "changeme",
        "trustno1",
        "superman",
        "whatever",
        "starwars",
        "dragon12",
        "monkey12",
    }
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency list, plus our own few."""
    # Imported here: a 30,000-word list is loaded once, on first use, not at every start-up.
    # PLC0415 below: lazy: the 30,000-word list only on first use
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415

    return frozenset(FREQUENCY_LISTS["passwords"]) | COMMON_PASSWORDS


def check_password(password: str, primary_id: str) -> None:
    """500038: at least 8 characters, not containing the user name, not a common password."""
    lowered = password.casefold()
    if (
        len(password) < 8
        or len(password) > 1024
        or normalise_id(primary_id) in lowered
        or lowered in common_passwords()
    ):
        raise PasswordRejected()
