"""The core of the container: the engine, the units of work, the settings, and the
services of users, keys, roles and code tables, each built on first use (the package's note).
``bookplate codes …`` and ``bookplate institutions …`` need nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from bookplate.network.model import Institution

if TYPE_CHECKING:
    from bookplate.auth.staff_tokens import StaffTokens
    from bookplate.config import Settings
    from bookplate.keys.services import KeyService
    from bookplate.roles.admin import RolesAdmin
    from bookplate.roles.codes import CodeTablesAdmin
    from bookplate.roles.services import RolesConfigCache
    from bookplate.roles.staff import StaffUsers
    from bookplate.storage.engine import Engine
    from bookplate.storage.uow import SqlUnitOfWork
    from bookplate.users.defaults import CodeList
    from bookplate.users.services import UserService


@dataclass
class Core:
    engine: Engine
    uow_factory: Callable[[], SqlUnitOfWork]
    #: Reads the settings the first time a service needs one (``settings``).
    load_settings: Callable[[], Settings]

    @cached_property
    def settings(self) -> Settings:
        return self.load_settings()

    def read_factory(self) -> SqlUnitOfWork:
        from bookplate.storage.uow import SqlUnitOfWork  # noqa: PLC0415 (imported by now)
        return SqlUnitOfWork(self.engine, read_only=True)

    def single_write_factory(self) -> SqlUnitOfWork:
        from bookplate.storage.uow import SqlUnitOfWork  # noqa: PLC0415 (imported by now)
        return SqlUnitOfWork(self.engine, single_write=True)

    @cached_property
    def roles_config(self) -> RolesConfigCache:
        from bookplate.roles.services import RolesConfigCache  # noqa: PLC0415 (on first use)
        return RolesConfigCache(self.read_factory, self.settings.cache_seconds)

    @cached_property
    def users(self) -> UserService:
        return self.build_users()

    def build_users(self) -> UserService:
        """The users service (``Container`` adds its write hooks)."""
        from bookplate.auth.hasher import Argon2Hasher  # noqa: PLC0415 (on first use)
        from bookplate.roles.services import RoleRules  # noqa: PLC0415 (on first use)
        from bookplate.users.services import CodeBookCache, UserService  # noqa: PLC0415 (on first use)
        return UserService(self.uow_factory, Argon2Hasher(),
                           CodeBookCache(self.settings.cache_seconds),
                           roles=RoleRules(self.roles_config), read_uow_factory=self.read_factory,
                           single_write_uow_factory=self.single_write_factory)

    @cached_property
    def keys(self) -> KeyService:
        """API keys with the per-second threshold (in Redis when configured) and Alma's
        daily threshold when one is set."""
        from bookplate.keys.ports import RateCounter  # noqa: PLC0415 (on first use)
        from bookplate.keys.quota import DAY, DailyQuota  # noqa: PLC0415 (on first use)
        from bookplate.keys.services import KeyService  # noqa: PLC0415 (on first use)
        from bookplate.storage.rate_counter import SqlRateCounter  # noqa: PLC0415 (on first use)
        s = self.settings
        if s.redis_url or s.daily_threshold is not None:
            from bookplate.storage.redis_counter import RedisRateCounter  # noqa: PLC0415 (redis)
        counter: RateCounter = (
            RedisRateCounter(s.redis_url) if s.redis_url else SqlRateCounter(self.engine)
        )
        daily: DailyQuota | None = None
        if s.daily_threshold is not None:
            daily_counter: RateCounter = (
                RedisRateCounter(s.redis_url, prefix="bookplate:daily:", ttl_seconds=2 * DAY)
                if s.redis_url else SqlRateCounter(self.engine)
            )
            daily = DailyQuota(daily_counter, s.daily_threshold)
        return KeyService(self.uow_factory, counter, s.cache_seconds, self.read_factory,
                          daily=daily)

    @cached_property
    def roles(self) -> RolesAdmin:
        from bookplate.roles.admin import RolesAdmin  # noqa: PLC0415 (on first use)
        return RolesAdmin(self.uow_factory, self.roles_config)

    @cached_property
    def staff(self) -> StaffUsers:
        from bookplate.roles.staff import StaffUsers  # noqa: PLC0415 (on first use)
        return StaffUsers(self.users, self.roles_config)

    @cached_property
    def tokens(self) -> StaffTokens:
        from bookplate.auth.staff_tokens import StaffTokens  # noqa: PLC0415 (on first use)
        return StaffTokens(self.uow_factory, cache_seconds=self.settings.cache_seconds)

    def codes_changed(self) -> None:
        """Clears the cached code books (none to clear when the users service was never
        built in this process)."""
        users = self.__dict__.get("users")
        if users is not None:
            users.codes.clear()

    def add_institution(self, code: str, name: str) -> bool:
        """Create an institution with the default code tables; False if it exists."""
        with self.uow_factory() as uow:
            if uow.institutions.get(code) is not None:
                return False
            uow.institutions.add(Institution(code, name))
            uow.codes.seed(code, _new_institution_tables())
            uow.commit()
        self.roles.seed(code)
        return True

    def add_standard_codes(self, code: str) -> dict[str, int] | None:
        """Add the ISO countries and languages an institution lacks (``bookplate codes
        standard``); how many codes each table gained, or None without the institution."""
        with self.uow_factory() as uow:
            if uow.institutions.get(code) is None:
                return None
            added = uow.codes.seed(code, _standard_tables())
            uow.commit()
        self.codes_changed()
        return added

    def seed_configuration(self, code: str) -> None:
        """A new institution's code tables and roles configuration, added where missing."""
        with self.uow_factory() as uow:
            uow.codes.seed(code, _new_institution_tables())
            uow.commit()
        self.roles.seed(code)
        self.codes_changed()

    @cached_property
    def code_tables(self) -> CodeTablesAdmin:
        """Code table changes of the administration pages (audited, clears the cache)."""
        from bookplate.roles.codes import CodeTablesAdmin  # noqa: PLC0415 (on first use)
        return CodeTablesAdmin(self.uow_factory, self.codes_changed)


def _new_institution_tables() -> dict[str, CodeList]:
    from bookplate.users.standard_codes import new_institution_tables  # noqa: PLC0415 (pycountry)
    return new_institution_tables()


def _standard_tables() -> dict[str, CodeList]:
    from bookplate.users.standard_codes import standard_tables  # noqa: PLC0415 (pycountry)
    return standard_tables()
