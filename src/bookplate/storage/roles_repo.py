"""``RolesRepository`` (roles) and ``StaffTokenRepository`` (auth) on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from bookplate.roles.model import (
    AssignmentRule,
    Desk,
    Library,
    ProfileRole,
    RestrictedSettings,
    RoleProfile,
)
from bookplate.storage import tables as t
from bookplate.storage.rows import utc
from bookplate.storage.upsert import upsert


def _profile_roles_to_json(roles: tuple[ProfileRole, ...]) -> list[dict[str, Any]]:
    return [
        {
            "role_type": r.role_type,
            "scope": r.scope,
            "parameters": [list(p) for p in r.parameters],
            "status": r.status,
            "expiry_date": r.expiry_date.isoformat() if r.expiry_date else None,
        }
        for r in roles
    ]


def _profile_roles_from_json(data: list[dict[str, Any]]) -> tuple[ProfileRole, ...]:
    return tuple(
        ProfileRole(
            role_type=str(r["role_type"]),
            scope=r.get("scope"),
            parameters=tuple((str(a), str(b), str(c)) for a, b, c in r.get("parameters", [])),
            status=str(r.get("status", "ACTIVE")),
            expiry_date=date.fromisoformat(r["expiry_date"]) if r.get("expiry_date") else None,
        )
        for r in data
    )


class SqlRolesRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # libraries and desks
    def libraries(self, institution: str) -> dict[str, Library]:
        lib, desk = t.libraries.c, t.circulation_desks.c
        desks: dict[str, list[Desk]] = {}
        for row in self._conn.execute(
            select(desk.library, desk.code, desk.name, desk.enabled)
            .where(desk.institution == institution)
            .order_by(desk.library, desk.code)
        ):
            desks.setdefault(row.library, []).append(
                Desk(row.code, row.name or row.code, bool(row.enabled))
            )
        return {
            row.code: Library.with_desks(
                row.code, row.name, desks.get(row.code, []), row.description or "",
                bool(row.enabled),
            )
            for row in self._conn.execute(
                select(lib.code, lib.name, lib.description, lib.enabled).where(
                    lib.institution == institution
                )
            )
        }

    def put_library(self, institution: str, library: Library) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.libraries,
                {
                    "institution": institution,
                    "code": library.code,
                    "name": library.name,
                    "description": library.description or None,
                    "enabled": library.enabled,
                },
                ["institution", "code"],
            )
        )
        desk = t.circulation_desks.c
        self._conn.execute(
            delete(t.circulation_desks).where(
                desk.institution == institution, desk.library == library.code
            )
        )
        if library.desks:
            self._conn.execute(
                insert(t.circulation_desks),
                [
                    {
                        "institution": institution,
                        "library": library.code,
                        "code": d.code,
                        "name": d.name if d.name != d.code else None,
                        "enabled": d.enabled,
                    }
                    for d in library.all_desks()
                ],
            )

    def remove_library(self, institution: str, code: str) -> bool:
        desk = t.circulation_desks.c
        self._conn.execute(
            delete(t.circulation_desks).where(desk.institution == institution, desk.library == code)
        )
        lib = t.libraries.c
        result = self._conn.execute(
            delete(t.libraries).where(lib.institution == institution, lib.code == code)
        )
        return bool(result.rowcount)

    # profiles
    def profiles(self, institution: str) -> dict[str, RoleProfile]:
        c = t.role_profiles.c
        return {
            row.code: RoleProfile(row.code, row.name, _profile_roles_from_json(row.roles))
            for row in self._conn.execute(
                select(c.code, c.name, c.roles).where(c.institution == institution).order_by(c.code)
            )
        }

    def put_profile(self, institution: str, profile: RoleProfile) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.role_profiles,
                {
                    "institution": institution,
                    "code": profile.code,
                    "name": profile.name,
                    "roles": _profile_roles_to_json(profile.roles),
                },
                ["institution", "code"],
            )
        )

    def remove_profile(self, institution: str, code: str) -> bool:
        c = t.role_profiles.c
        result = self._conn.execute(
            delete(t.role_profiles).where(c.institution == institution, c.code == code)
        )
        return bool(result.rowcount)

    # rules
    def rules(self, institution: str) -> list[AssignmentRule]:
        c = t.assignment_rules.c
        out = []
        for row in self._conn.execute(
            select(c.rule_id, c.profile, c.conditions, c.position)
            .where(c.institution == institution)
            .order_by(c.position, c.rule_id)
        ):
            cond = row.conditions
            out.append(
                AssignmentRule(
                    rule_id=row.rule_id,
                    profile=row.profile,
                    user_groups=frozenset(cond.get("user_groups", [])),
                    job_categories=frozenset(cond.get("job_categories", [])),
                    record_types=frozenset(cond.get("record_types", [])),
                    campuses=frozenset(cond.get("campuses", [])),
                    position=int(row.position),
                )
            )
        return out

    def put_rule(self, institution: str, rule: AssignmentRule) -> None:
        conditions = {
            "user_groups": sorted(rule.user_groups),
            "job_categories": sorted(rule.job_categories),
            "record_types": sorted(rule.record_types),
            "campuses": sorted(rule.campuses),
        }
        self._conn.execute(
            upsert(
                self._conn,
                t.assignment_rules,
                {
                    "institution": institution,
                    "rule_id": rule.rule_id,
                    "profile": rule.profile,
                    "conditions": conditions,
                    "position": rule.position,
                },
                ["institution", "rule_id"],
            )
        )

    def remove_rule(self, institution: str, rule_id: str) -> bool:
        c = t.assignment_rules.c
        result = self._conn.execute(
            delete(t.assignment_rules).where(c.institution == institution, c.rule_id == rule_id)
        )
        return bool(result.rowcount)

    # restricted accounts
    def restricted(self, institution: str) -> RestrictedSettings:
        c = t.restricted_settings.c
        row = self._conn.execute(
            select(c.user_groups, c.role_types).where(c.institution == institution)
        ).first()
        if row is None:
            return RestrictedSettings()
        return RestrictedSettings(frozenset(row.user_groups), frozenset(row.role_types))

    def set_restricted(self, institution: str, settings: RestrictedSettings) -> None:
        self._conn.execute(
            upsert(
                self._conn,
                t.restricted_settings,
                {
                    "institution": institution,
                    "user_groups": sorted(settings.user_groups),
                    "role_types": sorted(settings.role_types),
                },
                ["institution"],
            )
        )

    # audit
    def record(
        self, institution: str, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        self._conn.execute(
            insert(t.audit_log).values(
                at=datetime.now(UTC),
                institution=institution,
                actor=actor[:255],
                action=action[:64],
                target=target[:255],
                detail=detail,
            )
        )

    def history(self, institution: str, target_prefix: str = "") -> list[dict[str, Any]]:
        c = t.audit_log.c
        query = select(c.at, c.actor, c.action, c.target, c.detail).where(
            c.institution == institution
        )
        if target_prefix:
            query = query.where(c.target.startswith(target_prefix, autoescape=True))
        return [
            {
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "target": row.target,
                "detail": row.detail,
            }
            for row in self._conn.execute(query.order_by(c.id))
        ]

    def changes(
        self, institution: str, action_prefixes: Sequence[str], actor: str | None,
        start: datetime | None, end: datetime | None, limit: int, offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        c = t.audit_log.c
        cond = [c.institution == institution,
                or_(*(c.action.startswith(p, autoescape=True) for p in action_prefixes))]
        if actor:
            cond.append(c.actor == actor)
        if start is not None:
            cond.append(c.at >= start)
        if end is not None:
            cond.append(c.at < end)
        where = and_(*cond)
        total = self._conn.execute(
            select(func.count()).select_from(t.audit_log).where(where)).scalar_one()
        rows = self._conn.execute(
            select(c.at, c.actor, c.action, c.target, c.detail).where(where)
            .order_by(c.at.desc(), c.id.desc()).limit(limit).offset(offset))
        return [{"at": utc(r.at), "actor": r.actor, "action": r.action, "target": r.target,
                 "detail": r.detail} for r in rows], int(total)


class SqlStaffTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(
        self, token_id: str, institution: str, primary_id: str, secret_hash: str, created: datetime
    ) -> None:
        self._conn.execute(
            insert(t.staff_tokens).values(
                token_id=token_id,
                institution=institution,
                primary_id=primary_id,
                secret_hash=secret_hash,
                created=created,
            )
        )

    def by_hash(self, secret_hash: str) -> tuple[str, str] | None:
        c = t.staff_tokens.c
        row = self._conn.execute(
            select(c.institution, c.primary_id).where(
                c.secret_hash == secret_hash, c.revoked.is_(None)
            )
        ).first()
        return None if row is None else (row.institution, row.primary_id)

    def revoke(self, token_id: str) -> bool:
        c = t.staff_tokens.c
        result = self._conn.execute(
            update(t.staff_tokens)
            .where(c.token_id == token_id, c.revoked.is_(None))
            .values(revoked=datetime.now(UTC))
        )
        return bool(result.rowcount)
