"""The role catalogue (SPEC section 1.6), the privileges roles grant, and the staff actor.

Plain data: which scope each role takes, which parameters it carries, and which staff
privileges it opens. ``policy.py`` decides with these; nothing here touches storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Privilege(StrEnum):
    VIEW_USERS = "users.view"
    VIEW_IDENTIFIERS = "users.view_identifiers"
    CREATE_PATRONS = "users.create_patrons"
    EDIT_PATRONS = "users.edit_patrons"
    EDIT_STAFF = "users.edit_staff"
    EDIT_RESTRICTED = "users.edit_restricted"
    DELETE_USERS = "users.delete"
    MANAGE_ROLES = "roles.manage"
    CONFIGURE_USER_MANAGEMENT = "users.configure"
    MANAGE_INTEGRATION_PROFILES = "integrations.manage"
    RUN_SIS_JOBS = "sis.run"
    MANAGE_KEYS = "keys.manage"
    #: LDAP/SAML/CAS/OIDC sign-in profiles (only the General System Administrator holds it).
    CONFIGURE_SIGN_IN = "auth.configure"


class ScopeKind(StrEnum):
    """Where a role may be scoped. Taken from real records where seen (a 91-role staff user
    holds most types at library level); administrator roles and Patron are institution-wide."""

    INSTITUTION = "institution"  # scope must be the institution code
    LIBRARY = "library"  # scope must be one of the institution's libraries
    EITHER = "either"


class Parameter(StrEnum):
    CIRCULATION_DESK = "CirculationDesk"
    SERVICE_UNIT = "ServiceUnit"


@dataclass(frozen=True, slots=True)
class RoleType:
    code: str
    name: str
    scope: ScopeKind = ScopeKind.INSTITUTION
    parameter: Parameter | None = None
    privileges: frozenset[Privilege] = frozenset()


P = Privilege
_ALL = frozenset(Privilege)
_VIEW = frozenset({P.VIEW_USERS})
_DESK = frozenset({P.VIEW_USERS, P.CREATE_PATRONS, P.EDIT_PATRONS})
_USER_MANAGER = frozenset(
    {
        P.VIEW_USERS,
        P.VIEW_IDENTIFIERS,
        P.CREATE_PATRONS,
        P.EDIT_PATRONS,
        P.EDIT_STAFF,
        P.DELETE_USERS,
        P.MANAGE_ROLES,
    }
)
_USER_ADMIN = _USER_MANAGER | {P.EDIT_RESTRICTED, P.CONFIGURE_USER_MANAGEMENT, P.RUN_SIS_JOBS}

ADMINISTRATOR = "26"
USER_ADMINISTRATOR = "50"
USER_MANAGER = "21"
CIRC_DESK_OPERATOR = "32"
CIRC_DESK_MANAGER = "221"
PATRON = "200"

_I, _L, _E = ScopeKind.INSTITUTION, ScopeKind.LIBRARY, ScopeKind.EITHER
_CD, _SU = Parameter.CIRCULATION_DESK, Parameter.SERVICE_UNIT

ROLE_TYPES: dict[str, RoleType] = {
    r.code: r
    for r in (
        RoleType("0", "Deposit Manager", _E),
        RoleType("1", "Deposit Operator", _E),
        RoleType("2", "Deposit Operator Extended", _E),
        RoleType("12", "Digital Inventory Operator", _E),
        RoleType(USER_MANAGER, "User Manager", _E, None, _USER_MANAGER),
        RoleType(ADMINISTRATOR, "General System Administrator", _I, None, _ALL),
        RoleType("29", "Repository Manager", _E),
        RoleType(CIRC_DESK_OPERATOR, "Circulation Desk Operator", _L, _CD, _DESK),
        RoleType("33", "Vendor Manager", _E),
        RoleType("34", "Ledger Manager", _E),
        RoleType("36", "Fund Manager", _E),
        RoleType("37", "Receiving Operator", _L, _SU),
        RoleType("41", "License Manager", _E),
        RoleType("44", "Invoice Manager", _E),
        RoleType("46", "Selector", _E),
        RoleType("47", "Purchasing Operator Extended", _E),
        RoleType("48", "Invoice Operator Extended", _E),
        RoleType(USER_ADMINISTRATOR, "User Administrator", _I, None, _USER_ADMIN),
        RoleType("51", "Requests Operator", _L, _CD, _VIEW),
        RoleType("52", "Fulfillment Administrator", _I, None, _VIEW),
        RoleType("53", "Repository Administrator", _I),
        RoleType("54", "Purchasing Operator", _E),
        RoleType("55", "Purchasing Manager", _E),
        RoleType("56", "Acquisitions Administrator", _I),
        RoleType("57", "Letter Administrator", _I),
        RoleType("58", "License Viewer", _E),
        RoleType(PATRON, "Patron", _I),
        RoleType("204", "Cataloger", _E),
        RoleType("205", "Catalog Administrator", _I),
        RoleType("206", "Catalog Manager", _E),
        RoleType("208", "CDI Inventory Operator", _E),
        RoleType("209", "Electronic Inventory Operator", _E),
        RoleType("210", "Physical Inventory Operator", _E),
        RoleType("214", "Work Order Operator", _L, _SU),
        RoleType("215", "Fulfillment Services Manager", _E, None, _VIEW),
        RoleType("217", "Trial Manager", _E),
        RoleType(CIRC_DESK_MANAGER, "Circulation Desk Manager", _L, _CD, _DESK),
        RoleType("224", "Electronic Inventory Operator Extended", _E),
        RoleType("225", "Physical Inventory Operator Extended", _E),
        RoleType("226", "Digital Inventory Operator Extended", _E),
        RoleType("227", "Cataloger Extended", _E),
        RoleType("228", "Collection Inventory Operator", _E),
        RoleType("229", "Collection Inventory Operator Extended", _E),
        RoleType("231", "Course Reserves Manager", _E),
        RoleType("239", "Resource Sharing Partners Manager", _E),
        RoleType("243", "Selector Extended", _E),
        RoleType("244", "Usage Data Operator", _E),
        RoleType("247", "Purchase Request Manager", _E),
        RoleType("248", "Purchase Request Operator Extended", _E),
        RoleType("250", "Vendor Account Manager", _E),
        RoleType("299", "Circulation Desk Operator Limited", _L, _CD, _VIEW),
        RoleType("300", "Discovery Administrator", _I),
        RoleType("301", "Known Issues Operator", _E),
        RoleType("428", "Printout Queue Manager", _E),
        RoleType("2200", "Analytics Administrator", _I),
    )
}

# Holders of these are restricted accounts whatever the settings say: only someone with
# EDIT_RESTRICTED may change them.
ALWAYS_RESTRICTED_ROLES = frozenset({ADMINISTRATOR, USER_ADMINISTRATOR})
MAX_ROLES_PER_USER = 500


@dataclass(frozen=True, slots=True)
class Grant:
    """One active role of a staff member, reduced to what the policy needs."""

    role_type: str
    scope: str


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in staff member: who, in which institution, with which active roles."""

    primary_id: str
    institution: str
    grants: tuple[Grant, ...] = ()


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever calls a use case, resolved once by the face that received the call: a staff
    member (``actor``: the policy decides each action) or an integration whose API key the
    face has already checked for the area and the access (``actor`` None). ``who`` names the
    caller in the audit log. Every face hands this one object to the services, so a route
    never chooses between a staff path and a key path itself."""

    institution: str
    who: str
    actor: Actor | None = None

    @classmethod
    def staff(cls, actor: Actor) -> Caller:
        return cls(actor.institution, f"staff:{actor.primary_id}", actor)

    @classmethod
    def integration(cls, institution: str, key_id: str) -> Caller:
        return cls(institution, f"api:{key_id}")


@dataclass(frozen=True, slots=True)
class RestrictedSettings:
    """Restricted accounts: users in these groups or holding these roles (SPEC section 6)."""

    user_groups: frozenset[str] = frozenset()
    role_types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProfileRole:
    role_type: str
    scope: str | None = None  # None: the institution
    parameters: tuple[tuple[str, str, str], ...] = ()  # (type, scope, value)
    status: str = "ACTIVE"
    expiry_date: date | None = None


@dataclass(frozen=True, slots=True)
class RoleProfile:
    code: str
    name: str
    roles: tuple[ProfileRole, ...] = ()


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """When every set condition matches a new user, the profile's active roles are copied."""

    rule_id: str
    profile: str
    user_groups: frozenset[str] = frozenset()
    job_categories: frozenset[str] = frozenset()
    record_types: frozenset[str] = frozenset()
    campuses: frozenset[str] = frozenset()
    position: int = 0


@dataclass(frozen=True, slots=True)
class Desk:
    """A circulation desk's name and whether staff still use it (a disabled desk keeps the
    roles that name it valid; it is left out of the configuration API's answers)."""

    code: str
    name: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Library:
    code: str
    name: str
    desks: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    enabled: bool = True
    # Names and flags of the desks in ``desks``; a desk not listed is named by its code and
    # enabled. Sorted by code (``with_desks`` builds it), so equal libraries compare equal.
    desk_info: tuple[Desk, ...] = ()

    def desk(self, code: str) -> Desk:
        for info in self.desk_info:
            if info.code == code:
                return info
        return Desk(code, code)

    def all_desks(self) -> list[Desk]:
        """Every desk of the library, by code."""
        return [self.desk(code) for code in sorted(self.desks)]

    @classmethod
    def with_desks(
        cls, code: str, name: str, desks: list[Desk], description: str = "", enabled: bool = True
    ) -> Library:
        ordered = tuple(sorted(desks, key=lambda d: d.code))
        return cls(code, name, frozenset(d.code for d in ordered), description, enabled, ordered)
