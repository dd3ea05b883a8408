"""Settings, read from ``BOOKPLATE_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bookplate.database_url import default_database_url


class SelfRegistration(BaseModel):
    """Self-registration of one institution (docs/patron.md): the user group a new
    registration waits in, how many days its record lives before staff act on it, and how
    many hours the confirmation link works."""

    pending_group: str = Field(default="PENDING", min_length=1, max_length=255)
    pending_days: int = Field(default=14, ge=1, le=365)
    link_hours: int = Field(default=48, ge=1, le=720)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKPLATE_", env_file=".env", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    # Swagger UI at /docs loads its scripts from a CDN, so it is off unless asked for; the
    # OpenAPI document itself is always at /openapi.json (and in docs/api/openapi.json).
    api_docs: bool = False
    redis_url: str | None = None
    # Largest request body accepted, in bytes; larger bodies get 401676 without being read.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Public base URL used in ``link`` members; None = taken from each request.
    public_url: str | None = None
    # How long code tables and API keys are cached in each process, in seconds.
    cache_seconds: float = Field(default=5.0, ge=0)
    default_per_second: int = Field(default=50, ge=1)
    # Alma's daily threshold per institution, and the sandbox's resilience options: latency
    # added to each /almaws call and the share of them answered with a 500 (docs/sandbox.md).
    # With a threshold every answer to a key carries X-Exl-Api-Remaining.
    daily_threshold: int | None = Field(default=None, ge=1)
    inject_latency_ms: int = Field(default=0, ge=0, le=60_000)
    inject_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    inject_seed: int = 19
    sandbox: bool = False  # POST /bookplate/v1/sandbox/reset answers only in sandbox mode
    # Threads per worker process for the blocking request handlers (docs/operations.md):
    # more threads than cores make them fight over the interpreter lock and the event loop,
    # and the slowest requests wait ten times the median. Sign-in handlers that wait on
    # another server (LDAP, SAML, CAS, OIDC, mail) have their own, larger pool.
    worker_threads: int = Field(default=2, ge=1, le=256)
    sign_in_threads: int = Field(default=16, ge=1, le=256)
    log_level: str = "INFO"
    log_json: bool = False
    # SIS jobs (docs/sis.md): where queued and uploaded files wait for their run (a directory
    # every worker can read), and the largest upload accepted, in bytes.
    sis_spool: str = "./var/sis"
    sis_max_upload_bytes: int = Field(default=2 * 1024**3, ge=1024)
    # Authentication (docs/authentication.md). Session cookies are Secure unless this is
    # turned off (plain-http development and tests only).
    session_cookie_secure: bool = True
    session_seconds: int = Field(default=8 * 3600, ge=60)
    # Discovery JWTs (POST /primo/v1/userJwt): lifetime in seconds.
    jwt_ttl_seconds: int = Field(default=3600, ge=60)
    # Password-reset mail: no smtp_host = no reset mail. Links point at public_url, which
    # must then be set (a link built from the request's Host header could be poisoned).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "bookplate@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    reset_link_seconds: int = Field(default=3600, ge=60)
    # How the staff pages show dates (strftime; docs/staff-ui.md), e.g. "%d.%m.%Y".
    staff_date_format: str = Field(default="%Y-%m-%d", min_length=2, max_length=20,
                                   pattern=r"^[%A-Za-z./ ,-]+$")
    # Lockout (every method that checks a password): this many failures lock the account
    # for lockout_seconds (Alma's figures: 15 and 30 minutes).
    lockout_failures: int = Field(default=15, ge=1, le=1000)
    lockout_seconds: int = Field(default=1800, ge=60, le=30 * 86400)
    # /auth/forgot: at most this many requests per login name / account and per client
    # address within the window (a quiet window starts a new count).
    reset_limit_per_account: int = Field(default=3, ge=1, le=1000)
    reset_limit_per_address: int = Field(default=20, ge=1, le=100_000)
    reset_limit_window_seconds: int = Field(default=3600, ge=60, le=30 * 86400)

    # Patron self-service at /me (docs/patron.md): which contact details patrons change
    # themselves (any of emails, phones, addresses), and the identifier types shown to them
    # in full (the others are masked: the last 4 characters shown).
    patron_contact_fields: list[Literal["emails", "phones", "addresses"]] = Field(
        default=["emails", "phones"], max_length=3)
    patron_visible_id_types: list[str] = Field(default=["BARCODE"], max_length=50)
    # Self-registration at /register (docs/patron.md): off unless the institution is named
    # here, e.g. BOOKPLATE_SELF_REGISTRATION='{"MAIN": {"pending_group": "PENDING"}}'. At
    # most this many registrations per client address (and 3 per e-mail address) a window.
    self_registration: dict[str, SelfRegistration] = Field(default_factory=dict, max_length=500)
    registration_limit_per_address: int = Field(default=10, ge=1, le=100_000)
    registration_limit_window_seconds: int = Field(default=3600, ge=60, le=30 * 86400)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
