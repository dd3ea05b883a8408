"""Many users replaced in one go (``UserRepository.replace_many``: the live refresh of a
group of linked copies): the rows ``SqlUserRepository.replace`` writes one user at a time —
the outbox rows owed by the users' own copies, the ``users`` row, the side rows, one
``user.replace`` history line each — written with a few statements for the whole group,
through the SIS batch writer's set-based path (one UPDATE from a COPYed temporary table on
PostgreSQL, side rows rewritten only where they differ)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import Connection, select, tuple_
from sqlalchemy.exc import IntegrityError

from bookplate.network.model import OutboxKind
from bookplate.storage import outbox
from bookplate.storage import tables as t
from bookplate.storage.batch_rows import BatchRows
from bookplate.storage.network_bulk import write_history
from bookplate.storage.network_repo import read_id_scope
from bookplate.storage.sis_batch import SqlSisBatch
from bookplate.storage.sis_sql import chunks
from bookplate.users.errors import DuplicateId, UserNotFound
from bookplate.users.model import User, normalise_id

# The users' keys by (institution, normalised primary ID), one index look-up each (a lateral
# subquery per key, as the SIS batch's look-ups go; ``OFFSET 0`` keeps it from being
# flattened into a join the planner might hash).
_PG_PKS = (
    "SELECT k.inst, k.norm, u.id"
    " FROM unnest(CAST(%(insts)b AS text[]), CAST(%(norms)b AS text[])) AS k(inst, norm)"
    " CROSS JOIN LATERAL (SELECT id FROM users WHERE institution = k.inst"
    ' AND primary_id_norm = k.norm COLLATE "C" OFFSET 0) AS u'
)


def _pks(writer: SqlSisBatch, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if writer._pg:
        params = {"insts": [k[0] for k in keys], "norms": [k[1] for k in keys]}
        return {(i, n): pk for i, n, pk in writer._driver_rows(_PG_PKS, params)}
    u = t.users.c
    out: dict[tuple[str, str], int] = {}
    for part in chunks(list(keys), 400):
        rows = writer.conn.execute(
            select(u.institution, u.primary_id_norm, u.id).where(
                tuple_(u.institution, u.primary_id_norm).in_(list(part))
            )
        )
        for institution, norm, pk in rows:
            out[institution, norm] = pk
    return out


def replace_many(conn: Connection, items: Sequence[tuple[str, User]]) -> None:
    """``SqlUserRepository.replace`` (no password change, no version check) for each
    ``(previous primary ID, user)``, all in the caller's transaction. Raises UserNotFound
    when one of the users is gone (nothing written), DuplicateId on an ID clash."""
    if not items:
        return
    writer = SqlSisBatch(conn)
    keys = [(user.institution, normalise_id(previous)) for previous, user in items]
    found = _pks(writer, keys)
    missing = [previous for (previous, _), key in zip(items, keys, strict=True)
               if key not in found]
    if missing or len(set(keys)) != len(keys):
        raise UserNotFound(missing[0] if missing else "(a user named twice)")
    pks = [found[key] for key in keys]
    # Before the rows change: the entries keep the primary IDs the copies know.
    outbox.enqueue(conn, pks, OutboxKind.CHANGED)
    rows = BatchRows([user for _, user in items], pks, read_id_scope(conn), json_text=True,
                     vector=writer._vector)
    try:
        if writer._pg:
            writer._update_users_pg(rows)  # raises UserNotFound when a row is gone meanwhile
        elif writer._update_users_sqlite(rows) != len(items):
            raise UserNotFound(f"{len(items)} users, not all found")
        writer._rewrite_side_rows(rows, pks)
    except (IntegrityError, psycopg.errors.UniqueViolation) as error:
        orig = getattr(error, "orig", None) or error
        raise DuplicateId(str(orig)[:200], "all_unique") from None
    write_history(conn, [
        (user.institution, user.last_modified_by, "user.replace", user.primary_id,
         None if normalise_id(previous) == normalise_id(user.primary_id)
         else {"previous_primary_id": previous})
        for previous, user in items
    ])
