"""``CodeTables``: an institution's code tables and its user-group/record-type map."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, delete, func, insert, select

from bookplate.storage import tables as t
from bookplate.storage.upsert import upsert
from bookplate.users.defaults import DEFAULT_CODE_TABLES, DEFAULT_GROUP_RECORD_TYPES, CodeList
from bookplate.users.ports import CodeRow


class SqlCodeTables:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def rows(self, institution: str, table: str) -> list[CodeRow]:
        c = t.code_rows.c
        result = self._conn.execute(
            select(c.code, c.description, c.enabled, c.is_default)
            .where(c.institution == institution, c.table_name == table)
            .order_by(c.position, c.code)
        )
        return [CodeRow(r.code, r.description, bool(r.enabled), bool(r.is_default)) for r in result]

    def table_names(self, institution: str) -> list[str]:
        c = t.code_rows.c
        return list(
            self._conn.execute(
                select(c.table_name)
                .where(c.institution == institution)
                .distinct()
                .order_by(c.table_name)
            ).scalars()
        )

    def descriptions(self, institution: str) -> dict[str, str]:
        c = t.code_tables.c
        return {
            r.name: r.description
            for r in self._conn.execute(
                select(c.name, c.description).where(c.institution == institution)
            )
        }

    def describe_table(self, institution: str, table: str, description: str) -> None:
        c = t.code_tables.c
        if not description or description == table:
            self._conn.execute(
                delete(t.code_tables).where(c.institution == institution, c.name == table)
            )
            return
        self._conn.execute(
            upsert(
                self._conn,
                t.code_tables,
                {"institution": institution, "name": table, "description": description},
                ["institution", "name"],
            )
        )

    def allowed_groups(self, institution: str) -> Mapping[str, frozenset[str]]:
        c = t.group_record_types.c
        out: dict[str, set[str]] = {}
        for group, record_type in self._conn.execute(
            select(c.user_group, c.record_type).where(c.institution == institution)
        ):
            out.setdefault(record_type, set()).add(group)
        return {k: frozenset(v) for k, v in out.items()}

    def _next_position(self, institution: str, table: str) -> int:
        c = t.code_rows.c
        top = self._conn.execute(
            select(func.max(c.position)).where(c.institution == institution, c.table_name == table)
        ).scalar_one()
        return 0 if top is None else int(top) + 1

    def put_row(self, institution: str, table: str, row: CodeRow) -> None:
        values = {
            "institution": institution,
            "table_name": table,
            "code": row.code,
            "description": row.description,
            "enabled": row.enabled,
            "is_default": row.default,
            "position": self._next_position(institution, table),
        }
        stmt = upsert(
            self._conn,
            t.code_rows,
            values,
            ["institution", "table_name", "code"],
            keep=["position"],
        )
        self._conn.execute(stmt)

    def remove_row(self, institution: str, table: str, code: str) -> bool:
        c = t.code_rows.c
        result = self._conn.execute(
            delete(t.code_rows).where(
                c.institution == institution, c.table_name == table, c.code == code
            )
        )
        return bool(result.rowcount)

    def set_group_record_types(
        self, institution: str, user_group: str, record_types: frozenset[str]
    ) -> None:
        c = t.group_record_types.c
        self._conn.execute(
            delete(t.group_record_types).where(
                c.institution == institution, c.user_group == user_group
            )
        )
        if record_types:
            self._conn.execute(
                insert(t.group_record_types),
                [
                    {"institution": institution, "user_group": user_group, "record_type": rt}
                    for rt in sorted(record_types)
                ],
            )

    def seed(
        self, institution: str, tables: Mapping[str, CodeList] | None = None
    ) -> dict[str, int]:
        """Add the codes of ``tables`` (default: ``DEFAULT_CODE_TABLES``) the institution lacks,
        after its existing rows, and the default user-group map; rows already there are left
        as staff set them. Returns how many codes each table gained."""
        c = t.code_rows.c
        existing: dict[str, set[str]] = {}
        top: dict[str, int] = {}
        for row in self._conn.execute(
            select(c.table_name, c.code, c.position).where(c.institution == institution)
        ):
            existing.setdefault(row.table_name, set()).add(row.code)
            top[row.table_name] = max(top.get(row.table_name, -1), int(row.position))
        added: dict[str, int] = {}
        new_rows = []
        for table, codes in (DEFAULT_CODE_TABLES if tables is None else tables).items():
            have = existing.get(table, set())
            position = top.get(table, -1) + 1
            for code, description in codes:
                if code in have:
                    continue
                have.add(code)
                new_rows.append(
                    {
                        "institution": institution,
                        "table_name": table,
                        "code": code,
                        "description": description,
                        "enabled": True,
                        "is_default": False,
                        "position": position,
                    }
                )
                position += 1
                added[table] = added.get(table, 0) + 1
        if new_rows:
            self._conn.execute(insert(t.code_rows), new_rows)
        g = t.group_record_types.c
        mapped = {
            (row.user_group, row.record_type)
            for row in self._conn.execute(
                select(g.user_group, g.record_type).where(g.institution == institution)
            )
        }
        new_map = [
            {"institution": institution, "user_group": group, "record_type": rt}
            for group, record_types in DEFAULT_GROUP_RECORD_TYPES.items()
            for rt in record_types
            if (group, rt) not in mapped
        ]
        if new_map:
            self._conn.execute(insert(t.group_record_types), new_map)
        return added
