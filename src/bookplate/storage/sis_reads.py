"""The reads of an SIS batch: stored users by match ID (with the fingerprints the last run
left), stored records, and the holders of IDs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from bookplate.network.model import uniqueness_scope
from bookplate.sis.ports import Found, Holder
from bookplate.storage import tables as t
from bookplate.storage.documents import stored_user
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.sis_sql import (
    PG_HOLDERS,
    PG_LOOKUP_IDENTIFIER,
    PG_LOOKUP_PRIMARY,
    SisConnection,
    chunks,
    same_time,
)
from bookplate.users.model import User


class SisReads(SisConnection):
    def lookup(
        self, institution: str, match_id_type: str, norms: Sequence[str]
    ) -> dict[str, Found]:
        u, f = t.users, t.sis_fingerprints
        out: dict[str, Found] = {}
        if self._pg:
            statement = (
                PG_LOOKUP_PRIMARY if match_id_type == "primary_id" else PG_LOOKUP_IDENTIFIER
            )
            params = {"norms": list(norms), "institution": institution, "id_type": match_id_type}
            for norm, pk, modified, fingerprint, fp_modified, primary_id in self._driver_rows(
                statement, params
            ):
                ok = fingerprint is not None and same_time(modified, fp_modified)
                out[norm] = Found(pk, fingerprint if ok else None, primary_id)
            return out
        columns = (u.c.id, u.c.last_modified_date, f.c.fingerprint, f.c.modified, u.c.primary_id)
        for part in chunks(list(norms)):
            if match_id_type == "primary_id":
                key = u.c.primary_id_norm
                query = select(key, *columns)
                query = query.select_from(u.outerjoin(f, f.c.user_pk == u.c.id)).where(
                    u.c.institution == institution, key.in_(part)
                )
            else:
                ui = t.user_identifiers
                key = ui.c.value_norm
                query = (
                    select(key, *columns)
                    .select_from(
                        ui.join(u, u.c.id == ui.c.user_pk).outerjoin(f, f.c.user_pk == u.c.id)
                    )
                    .where(
                        ui.c.id_type == match_id_type,
                        key.in_(part),
                        u.c.institution == institution,
                    )
                )
            for norm, pk, modified, fingerprint, fp_modified, primary_id in self.conn.execute(
                query
            ):
                ok = fingerprint is not None and same_time(modified, fp_modified)
                out[norm] = Found(pk, fingerprint if ok else None, primary_id)
        return out

    def load(self, pks: Sequence[int]) -> dict[int, User]:
        out: dict[int, User] = {}
        for part in chunks(list(pks)):
            rows = self.conn.execute(
                select(t.users.c.id, t.users.c.institution, t.users.c.record).where(
                    t.users.c.id.in_(part)
                )
            )
            for pk, institution, record in rows:
                out[pk] = stored_user(institution, record)
        return out

    def id_holders(self, institution: str, norms: Sequence[str]) -> dict[str, Holder]:
        scope = uniqueness_scope(read_id_scope(self.conn), institution)
        i, u = t.user_ids, t.users
        out: dict[str, Holder] = {}
        if self._pg:
            params = {"norms": sorted(set(norms)), "scope": scope}
            for norm, pk, primary_id, id_type in self._driver_rows(PG_HOLDERS, params):
                out[norm] = Holder(pk, primary_id, id_type)
            return out
        for part in chunks(sorted(set(norms))):
            rows = self.conn.execute(
                select(i.c.value_norm, i.c.user_pk, u.c.primary_id, i.c.id_type)
                .select_from(i.join(u, u.c.id == i.c.user_pk))
                .where(i.c.scope == scope, i.c.value_norm.in_(part))
            )
            for norm, pk, primary_id, id_type in rows:
                out[norm] = Holder(pk, primary_id, id_type)
        return out
