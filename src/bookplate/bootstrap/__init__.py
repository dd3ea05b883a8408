"""Wiring: builds the services from settings. The faces (API, CLI) start here.

The container builds each service on first use and imports its modules then.
``build_container`` builds the core services at once (the API and the workers: no service
is first built by two requests at the same moment); ``open_container`` builds none, so a CLI
command that changes a code table loads the code tables' store and the database layer only,
and reads the settings (pydantic-settings) only if a service asks for them
(docs/benchmarks.md, "CLI")."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bookplate.bootstrap.core import Core

if TYPE_CHECKING:
    from bookplate.auth.external import ExternalLogins
    from bookplate.auth.mail import SmtpMailer
    from bookplate.auth.registration_queue import RegistrationQueue
    from bookplate.auth.registrations import SelfRegistrations
    from bookplate.auth.registry import LoginMethods
    from bookplate.auth.resets import PasswordResets
    from bookplate.auth.services import AuthService
    from bookplate.auth.signin_admin import SignInAdmin
    from bookplate.auth.tokens import DiscoveryTokens
    from bookplate.bootstrap.light import CodeTablesOnly
    from bookplate.config import Settings
    from bookplate.network.live import RefreshThread
    from bookplate.network.services import NetworkService
    from bookplate.sandbox.services import Sandbox
    from bookplate.sis.jobs import SisJobs
    from bookplate.sis.queues import WorkerQueue
    from bookplate.sis.services import SisService
    from bookplate.storage.network_queue import NetworkRefreshQueue
    from bookplate.storage.reindex import ReindexReport as ReindexReport  # re-exported to the CLI
    from bookplate.storage.uow import SqlUnitOfWork
    from bookplate.users.model import User
    from bookplate.users.ports import UnitOfWork, WriteHook
    from bookplate.users.services import UserService


class Container(Core):
    """Every service of a deployment, each built on first use."""

    def build_users(self) -> UserService:
        """The core's users service, with the hook that sends a host's blocks on a linked
        account to its home (``network.host_blocks``)."""
        users = super().build_users()
        users.write_hooks.append(_host_blocks_hook(self))
        return users

    @cached_property
    def sandbox(self) -> Sandbox:
        """Seeding and resetting a sandbox institution (docs/sandbox.md)."""
        from bookplate.sandbox.services import Sandbox  # noqa: PLC0415 (on first use)
        from bookplate.storage.institution_state import SqlInstitutionState  # noqa: PLC0415 (on first use)
        return Sandbox(
            self.uow_factory, self.users, self.roles, self.sis, self.add_institution, self.keys,
            SqlInstitutionState(self.engine), self.seed_configuration,
        )

    @cached_property
    def sis(self) -> SisService:
        """SIS profiles and runs (built on first use)."""
        from bookplate.sis.services import SisService  # noqa: PLC0415 (on first use)
        from bookplate.storage.sis_repo import SqlSisStore  # noqa: PLC0415 (on first use)
        return SisService(SqlSisStore(self.engine), self.users)

    @cached_property
    def sis_jobs(self) -> SisJobs:
        """SIS runs as jobs: procrastinate on PostgreSQL, a background thread on SQLite."""
        from bookplate.sis.jobs import SisJobs  # noqa: PLC0415 (on first use)
        from bookplate.sis.queues import JobQueue, ThreadQueue  # noqa: PLC0415 (on first use)
        from bookplate.storage.identity import database_identity  # noqa: PLC0415 (on first use)
        from bookplate.storage.sis_queue import ProcrastinateQueue  # noqa: PLC0415 (on first use)
        from bookplate.storage.sis_repo import SqlSisStore  # noqa: PLC0415 (on first use)
        jobs = SisJobs(
            self.sis,
            SqlSisStore(self.engine),
            Path(self.settings.sis_spool),
            database_identity(self.engine),
        )
        queue: JobQueue
        if self.engine.dialect.name == "postgresql":
            queue = ProcrastinateQueue(self.settings.database_url, jobs.execute)
        else:
            queue = ThreadQueue(jobs.execute)
        jobs.queue = queue
        if not isinstance(queue, ProcrastinateQueue):
            jobs.sweep()  # runs a killed process left behind become "interrupted"
        return jobs

    def worker_queue(self) -> WorkerQueue | None:
        """The queue ``bookplate worker`` processes work (PostgreSQL); None on SQLite, where
        runs execute in the process that queues them."""
        from bookplate.storage.sis_queue import ProcrastinateQueue  # noqa: PLC0415 (on first use)
        queue = self.sis_jobs.queue
        return queue if isinstance(queue, ProcrastinateQueue) else None

    @cached_property
    def network(self) -> NetworkService:
        """Partners, linked accounts and their refresh, the network-wide ID rule. Partners
        on other deployments are reached over HTTP (httpx2, imported on first use)."""
        from bookplate.network.remote import HttpRemoteSources  # noqa: PLC0415 (httpx2)
        from bookplate.network.services import NetworkService  # noqa: PLC0415 (on first use)

        return NetworkService(self.uow_factory, self.users, HttpRemoteSources())

    @cached_property
    def network_refresh(self) -> NetworkRefreshQueue | RefreshThread:
        """Live refresh: a procrastinate job on PostgreSQL (``bookplate network worker``),
        a background thread of this process on SQLite."""
        from bookplate.network.live import RefreshThread  # noqa: PLC0415 (on first use)
        from bookplate.storage.network_queue import NetworkRefreshQueue  # noqa: PLC0415 (on first use)
        def work() -> object:
            report = self.network.process_outbox()
            self.network.deliver_pushes()  # to copies on other deployments
            return report

        if self.engine.dialect.name == "postgresql":
            return NetworkRefreshQueue(self.settings.database_url, work)
        return RefreshThread(work)

    def notify_refresh(self) -> None:
        """A commit wrote outbox rows (``storage.outbox``): have them worked."""
        self.network_refresh.notify()

    @cached_property
    def auth(self) -> AuthService:
        """Passwords with lockout, sessions, external logins (built on first use). The
        failure counter is in Redis when configured, else in the database."""
        from bookplate.auth.ports import LockoutCounter  # noqa: PLC0415 (on first use)
        from bookplate.auth.services import AuthService  # noqa: PLC0415 (on first use)
        from bookplate.storage.auth_repo import SqlAuthStore, SqlLockoutCounter  # noqa: PLC0415 (on first use)
        from bookplate.storage.redis_lockout import RedisLockoutCounter  # noqa: PLC0415 (on first use)
        s = self.settings
        limit, seconds = s.lockout_failures, s.lockout_seconds
        lockout: LockoutCounter = (
            RedisLockoutCounter(s.redis_url, limit, seconds) if s.redis_url
            else SqlLockoutCounter(self.engine, limit, seconds)
        )
        return AuthService(self.users, SqlAuthStore(self.engine), lockout,
                           session_seconds=s.session_seconds)

    @cached_property
    def resets(self) -> PasswordResets:
        """One-time password-reset links, mailed in the background (built on first use). The
        request counters are in Redis when configured, else in the database."""
        from bookplate.auth.ports import AttemptCounter  # noqa: PLC0415 (on first use)
        from bookplate.auth.resets import PasswordResets  # noqa: PLC0415 (on first use)
        from bookplate.storage.auth_repo import SqlAttemptCounter  # noqa: PLC0415 (on first use)
        from bookplate.storage.redis_lockout import RedisAttemptCounter  # noqa: PLC0415 (on first use)
        s = self.settings
        attempts: AttemptCounter = (
            RedisAttemptCounter(s.redis_url) if s.redis_url else SqlAttemptCounter(self.engine)
        )
        return PasswordResets(self.auth, mailer=self.mailer, reset_seconds=s.reset_link_seconds,
                              public_url=s.public_url, attempts=attempts,
                              reset_limit_per_account=s.reset_limit_per_account,
                              reset_limit_per_address=s.reset_limit_per_address,
                              reset_limit_window_seconds=s.reset_limit_window_seconds)

    @cached_property
    def mailer(self) -> SmtpMailer | None:
        from bookplate.auth.mail import SmtpMailer  # noqa: PLC0415 (on first use)
        s = self.settings
        return (SmtpMailer(s.smtp_host, s.smtp_port, s.smtp_from, starttls=s.smtp_starttls,
                           user=s.smtp_user, password=s.smtp_password)
                if s.smtp_host else None)

    @cached_property
    def registrations(self) -> SelfRegistrations:
        """Self-registration (docs/patron.md), switched on per institution; the creating
        and mailing run in the background, like reset mails."""
        from bookplate.auth.registrations import SelfRegistrations  # noqa: PLC0415 (on first use)
        from bookplate.storage.registrations_repo import SqlRegistrationStore  # noqa: PLC0415 (on first use)
        s = self.settings
        return SelfRegistrations(
            self.users, SqlRegistrationStore(self.engine), s.self_registration,
            mailer=self.mailer, public_url=s.public_url, attempts=self.resets.attempts,
            limit_per_address=s.registration_limit_per_address,
            window_seconds=s.registration_limit_window_seconds, clock=self.auth.now)

    @cached_property
    def registration_queue(self) -> RegistrationQueue:
        from bookplate.auth.registration_queue import RegistrationQueue  # noqa: PLC0415 (on first use)
        from bookplate.storage.registrations_repo import SqlRegistrationStore  # noqa: PLC0415 (on first use)
        return RegistrationQueue(self.users, self.staff, SqlRegistrationStore(self.engine),
                                 self.mailer)

    @cached_property
    def login_methods(self) -> LoginMethods:
        """External sign-in profiles the login page offers; adapters ``add`` theirs."""
        from bookplate.auth.registry import LoginMethods  # noqa: PLC0415 (on first use)
        return LoginMethods()

    @cached_property
    def external(self) -> ExternalLogins:
        """LDAP/SAML/CAS/OIDC profiles and sign-ins (replay cache and pending state in the
        database, shared by every worker).

        Imported here, not at the top: the protocol libraries (pysaml2 with xmlschema, ldap3,
        authlib, httpx) weigh about 50 MiB, which a CLI command or an SIS run never needs."""
        from bookplate.auth.external import ExternalLogins  # noqa: PLC0415 (lazy, see above)
        from bookplate.storage.auth_profiles_repo import (  # noqa: PLC0415 (lazy, as above)
            SqlPendingStore,
            SqlProfileStore,
            SqlReplayCache,
            SqlSessionLinkStore,
        )

        return ExternalLogins(self.auth, SqlProfileStore(self.engine),
                              SqlPendingStore(self.engine), SqlReplayCache(self.engine),
                              public_url=self.settings.public_url,
                              links=SqlSessionLinkStore(self.engine))

    @cached_property
    def signin_admin(self) -> SignInAdmin:
        """Administering the sign-in profiles (the CLI and ``/staff/admin/sign-in``)."""
        from bookplate.auth.signin_admin import SignInAdmin  # noqa: PLC0415 (lazy, as above)

        return SignInAdmin(self.external)

    @cached_property
    def discovery(self) -> DiscoveryTokens:
        """Discovery JWTs and their signing keys (built on first use)."""
        from bookplate.auth.tokens import DiscoveryTokens  # noqa: PLC0415 (on first use)
        from bookplate.storage.auth_repo import SqlAuthStore  # noqa: PLC0415 (on first use)
        return DiscoveryTokens(SqlAuthStore(self.engine), ttl_seconds=self.settings.jwt_ttl_seconds,
                               cache_seconds=self.settings.cache_seconds)

    def readiness(self) -> str | None:
        """``GET /ready``: None when the database answers and its schema is current."""
        from bookplate.storage.migrate import readiness  # noqa: PLC0415 (Alembic, on first use)

        return readiness(self.engine)

    def sis_run_counts(self) -> dict[tuple[str, str], int]:
        """(institution, status) -> SIS runs, for ``/metrics`` (the latest 1000 of each
        institution)."""
        counts: dict[tuple[str, str], int] = {}
        with self.uow_factory() as uow:
            institutions = [i.code for i in uow.institutions.list()]
        for code in institutions:
            for report in self.sis.runs(code, limit=1000):
                key = (code, report.status)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def close(self) -> None:
        for name in ("resets", "registrations"):
            sender = self.__dict__.get(name)
            if sender is not None:
                sender.close()  # reset and registration mails still queued go out first
        from bookplate.storage.outbox import set_listener  # noqa: PLC0415 (imported)

        set_listener(self.engine, None)
        refresh = self.__dict__.get("network_refresh")
        if refresh is not None:
            refresh.close()
        network = self.__dict__.get("network")
        if network is not None:
            network.close()  # the HTTP connections to partners on other deployments
        jobs = self.__dict__.get("sis_jobs")
        if jobs is not None and jobs.queue is not None:
            jobs.queue.close()
        self.engine.dispose()


def build_container(settings: Settings, *, migrate: bool = False) -> Container:
    """The container with its core services built (see the module's note)."""
    container = open_container(settings.database_url, lambda: settings, migrate=migrate)
    for core in ("users", "keys", "roles", "staff", "tokens"):
        getattr(container, core)
    return container


def open_container(
    database_url: str, load_settings: Callable[[], Settings], *, migrate: bool = False
) -> Container:
    """A container on ``database_url`` whose services are each built on first use."""
    # SQLAlchemy is imported here, not with this package: on an embedded SQLite file the
    # code-table commands do without it (open_code_tables).
    from bookplate.storage.engine import make_engine  # noqa: PLC0415 (see above)
    from bookplate.storage.outbox import set_listener  # noqa: PLC0415 (see above)
    from bookplate.storage.schema_revision import at_head  # noqa: PLC0415 (see above)
    from bookplate.storage.uow import SqlUnitOfWork  # noqa: PLC0415 (see above)

    engine = make_engine(database_url)
    if migrate and not at_head(engine):
        from bookplate.storage.migrate import upgrade  # noqa: PLC0415 (Alembic, ~10 MiB)

        upgrade(engine)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    container = Container(engine, uow_factory, load_settings)
    set_listener(engine, container.notify_refresh)
    return container


def _host_blocks_hook(container: Container) -> WriteHook:
    """A write of a linked account may send the host's blocks to the home account
    (``network.host_blocks``); any other write costs this one test."""
    def hook(uow: UnitOfWork, before: User | None, after: User | None) -> None:
        if before is not None and before.source_institution_code:
            container.network.host_blocks_written(uow, before, after)
    return hook


def open_code_tables(database_url: str, load_settings: Callable[[], Settings]) -> CodeTablesOnly:
    """What ``bookplate codes …`` works with: on a plain SQLite file at the schema's head,
    the code tables on the driver itself (``storage/sqlite_codes.py``, no SQLAlchemy);
    otherwise ``open_container`` (which brings the schema to the head first)."""
    from bookplate.bootstrap.light import EmbeddedCodeTables  # noqa: PLC0415 (on first use)
    from bookplate.storage.sqlite_codes import database_file  # noqa: PLC0415 (on first use)

    path = database_file(database_url)
    if path is None:
        return open_container(database_url, load_settings, migrate=True)
    return EmbeddedCodeTables(path)


def check_database(url: str) -> tuple[list[str], dict[str, int]]:
    """``bookplate db check``: the differences between the tables in code and what the
    migrations build, and the side rows (per table) whose user is gone."""
    from bookplate.storage import transaction  # noqa: PLC0415 (only this command)
    from bookplate.storage.integrity import orphan_side_rows  # noqa: PLC0415 (only this command)
    from bookplate.storage.migrate import check_models_match  # noqa: PLC0415 (only this command)

    diffs = [str(d) for d in check_models_match(url)]
    if diffs:
        return diffs, {}
    from bookplate.storage.engine import make_engine  # noqa: PLC0415 (only this command)

    engine = make_engine(url)
    try:
        with transaction.connection(engine, read_only=True) as conn:
            return [], orphan_side_rows(conn)
    finally:
        engine.dispose()


def reindex_database(
    url: str, batch: int, start_after: int, progress: Callable[[ReindexReport], None]
) -> ReindexReport:
    """``bookplate db reindex``: every user's search terms and derived columns rebuilt from
    its stored document (``storage.reindex``)."""
    from bookplate.storage.engine import make_engine  # noqa: PLC0415 (only this command)
    from bookplate.storage.reindex import reindex_users  # noqa: PLC0415 (only this command)

    engine = make_engine(url)
    try:
        return reindex_users(engine, batch=batch, start_after=start_after, progress=progress)
    finally:
        engine.dispose()
