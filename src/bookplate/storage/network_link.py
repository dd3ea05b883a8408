"""The reads and the write of a link in as few round trips as they can be
(``NetworkRepository.member_of`` / ``link_holders`` / ``give_linking_id``, mixed into
``SqlNetworkRepository``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, String, bindparam, literal, or_, select, union_all, update

from bookplate.network.model import DEFAULT_SEARCHABLE, NETWORK_SCOPE_KEY, MemberSettings
from bookplate.network.ports import LinkHolders
from bookplate.storage import tables as t
from bookplate.storage.documents import user_to_document
from bookplate.storage.rows import utc
from bookplate.users.model import User, normalise_id


def _holders(source_here: bool) -> Any:
    """The statement of ``link_holders``, built once (bound parameters only, so it is
    compiled once and then found in SQLAlchemy's cache)."""
    u, ids = t.users.c, t.user_ids.c
    institution = bindparam("institution", type_=String)
    parts: list[Any] = [
        select(literal("copy").label("kind"), u.primary_id, u.source_institution_code,
               u.last_modified_date)
        .where(u.institution == institution, u.source_institution_code == bindparam("home"),
               u.source_link_id == bindparam("source_id"))
        .order_by(u.id).limit(1),
        select(literal("link").label("kind"), u.primary_id, u.source_institution_code,
               u.last_modified_date)
        .where(u.institution == institution, u.linking_id == bindparam("linking_id"))
        .order_by(u.id).limit(1),
        select(literal("id").label("kind"), u.primary_id, u.source_institution_code,
               u.last_modified_date)
        .select_from(t.users.join(t.user_ids, ids.user_pk == u.id))
        .where(u.institution == institution,
               or_(ids.scope == NETWORK_SCOPE_KEY, ids.scope == institution),
               ids.value_norm == bindparam("norm"))
        .order_by(u.id).limit(1),
    ]
    if source_here:
        parts.append(
            select(literal("source").label("kind"), u.primary_id, u.linking_id,
                   u.last_modified_date)
            .where(u.institution == bindparam("home"), u.primary_id_norm == bindparam("norm"))
        )
    return union_all(*(select(p.subquery().c) for p in parts))


_HOLDERS = _holders(False)
_HOLDERS_AND_SOURCE = _holders(True)


class NetworkLinkReads:
    _conn: Connection

    def member_of(self, institution: str) -> MemberSettings | None:
        i, m = t.institutions.c, t.network_members.c
        row = self._conn.execute(
            select(i.code, m.settings, m.search_password_hash)
            .select_from(t.institutions.outerjoin(t.network_members,
                                                  m.institution == i.code))
            .where(i.code == institution)
        ).first()
        if row is None:
            return None
        settings = row.settings or {}
        return MemberSettings(
            institution,
            tuple(settings.get("searchable_id_types") or DEFAULT_SEARCHABLE),
            row.search_password_hash,
            bool(settings.get("share_blocks", True)),
        )

    def link_holders(self, institution: str, home: str, source_id: str, linking_id: str,
                     *, source_here: bool) -> LinkHolders:
        """One statement: ``institution``'s copy of ``home``'s user ``source_id``, the local
        holders of the linking ID and of the ID, and (``source_here``) the source's stamp."""
        params = {"institution": institution, "home": home, "source_id": source_id,
                  "norm": normalise_id(source_id), "linking_id": linking_id.strip()}
        query = _HOLDERS_AND_SOURCE if source_here else _HOLDERS
        found: dict[str, tuple[str, str | None, Any]] = {}
        for kind, primary_id, other, modified in self._conn.execute(query, params):
            found.setdefault(kind, (primary_id, other, modified))
        link = found.get("link")
        source = found.get("source")
        return LinkHolders(
            copy=found["copy"][0] if "copy" in found else None,
            by_linking_id=None if link is None else (link[0], link[1]),
            by_id=found["id"][0] if "id" in found else None,
            source_modified=None if source is None else utc(source[2]),
            source_found=source is not None,
        )

    def give_linking_id(self, user: User, linking_id: str) -> bool:
        """``set_linking_id`` from the record just read, in one statement: written only while
        the stored user is still that record (same modification date, no linking ID yet);
        False when it is not (then ``set_linking_id`` reads it again)."""
        u = t.users.c
        user.linking_id = linking_id
        modified = utc(user.last_modified_date)
        result = self._conn.execute(
            update(t.users)
            .where(u.institution == user.institution,
                   u.primary_id_norm == normalise_id(user.primary_id),
                   u.linking_id.is_(None),
                   u.last_modified_date.is_(None) if modified is None
                   else u.last_modified_date == modified)
            .values(record=user_to_document(user), linking_id=linking_id)
        )
        return result.rowcount == 1
