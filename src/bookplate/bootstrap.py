"""Wiring: builds the services from settings. The faces (API, CLI) start here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from bookplate.config import Settings
from bookplate.keys.ports import RateCounter
from bookplate.keys.services import KeyService
from bookplate.network.model import Institution
from bookplate.roles.services import (
    RoleRules,
    RolesAdmin,
    RolesConfigCache,
    StaffTokens,
    StaffUsers,
)
from bookplate.sis.jobs import JobQueue, SisJobs, ThreadQueue
from bookplate.sis.queue import ProcrastinateQueue
from bookplate.sis.services import SisService
from bookplate.storage.engine import Engine, make_engine
from bookplate.storage.migrate import upgrade
from bookplate.storage.rate_counter import SqlRateCounter
from bookplate.storage.redis_counter import RedisRateCounter
from bookplate.storage.sis_repo import SqlSisStore
from bookplate.storage.uow import SqlUnitOfWork
from bookplate.users.services import CodeBookCache, UserService


class Argon2Hasher:
    """argon2id with argon2-cffi's defaults (documented in docs/operations.md)."""

    def __init__(self) -> None:
        self._argon = Argon2()

    def hash(self, password: str) -> str:
        return self._argon.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: Callable[[], SqlUnitOfWork]
    users: UserService
    keys: KeyService
    roles: RolesAdmin
    staff: StaffUsers
    tokens: StaffTokens

    def add_institution(self, code: str, name: str) -> bool:
        """Create an institution with the default code tables; False if it exists."""
        with self.uow_factory() as uow:
            if uow.institutions.get(code) is not None:
                return False
            uow.institutions.add(Institution(code, name))
            uow.codes.seed(code)
            uow.commit()
        self.roles.seed(code)
        return True

    @cached_property
    def sis(self) -> SisService:
        """SIS profiles and runs (built on first use)."""
        return SisService(SqlSisStore(self.engine), self.users)

    @cached_property
    def sis_jobs(self) -> SisJobs:
        """SIS runs as jobs: procrastinate on PostgreSQL, a background thread on SQLite."""
        jobs = SisJobs(self.sis, SqlSisStore(self.engine), Path(self.settings.sis_spool))
        queue: JobQueue
        if self.engine.dialect.name == "postgresql":
            queue = ProcrastinateQueue(self.settings.database_url, jobs.execute)
        else:
            queue = ThreadQueue(jobs.execute)
        jobs.queue = queue
        return jobs

    def close(self) -> None:
        jobs = self.__dict__.get("sis_jobs")
        if jobs is not None and jobs.queue is not None:
            jobs.queue.close()
        self.engine.dispose()


def build_container(settings: Settings, *, migrate: bool = False) -> Container:
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    counter: RateCounter
    counter = RedisRateCounter(settings.redis_url) if settings.redis_url else SqlRateCounter(engine)
    def read_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, read_only=True)

    roles_config = RolesConfigCache(read_factory, settings.cache_seconds)
    users = UserService(uow_factory, Argon2Hasher(), CodeBookCache(settings.cache_seconds),
                        roles=RoleRules(roles_config), read_uow_factory=read_factory)
    keys = KeyService(uow_factory, counter, settings.cache_seconds, read_factory)
    return Container(settings, engine, uow_factory, users, keys,
                     RolesAdmin(uow_factory, roles_config), StaffUsers(users, roles_config),
                     StaffTokens(uow_factory, cache_seconds=settings.cache_seconds))
