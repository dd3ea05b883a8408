"""The refresh outbox: every write of a user that has linked accounts leaves a row in
``network_outbox``, in the transaction of the write (the users repository, the SIS batch
writer, the SIS missing-users pass), so a change can never reach the database without the
refresh of its copies being owed.

The row is written *before* the user's row changes, so it carries the primary ID the copies
know the source by even when the write changes it. After the transaction commits, the
engine's listener (bootstrap: the job that works the outbox) is told; a row whose listener
call was lost is still found by the worker's periodic pass.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, and_, exists, insert, literal, or_, select

from bookplate.network.model import OutboxKind
from bookplate.storage import tables as t

_FLAG = "bookplate_outbox_written"
_listeners: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def set_listener(engine: Engine, listener: Callable[[], None] | None) -> None:
    """Call ``listener`` (without arguments, on the committing thread) after each commit on
    ``engine`` that wrote outbox rows. It must be quick (enqueue a job, set an event)."""
    with _lock:
        if listener is None:
            _listeners.pop(engine, None)
        else:
            _listeners[engine] = listener


def enqueue(conn: Connection, pks: Sequence[int], kind: OutboxKind) -> int:
    """Outbox rows for those of the users ``pks`` that have linked accounts in this
    deployment, or on another one (``network_remote_copies``): one statement, the partial
    index on the copies' source columns and the remote copies' key answer the test. Call
    before changing or deleting the users' rows. Returns how many were written."""
    if not pks:
        return 0
    u = t.users
    c = t.users.alias("copies")
    r = t.network_remote_copies.c
    has_copy = or_(
        exists().where(and_(c.c.source_institution_code == u.c.institution,
                            c.c.source_link_id == u.c.primary_id)),
        exists().where(and_(r.institution == u.c.institution, r.source_pk == u.c.id)),
    )
    now = datetime.now(UTC)
    written = 0
    for start in range(0, len(pks), 5_000):
        part = list(pks[start : start + 5_000])
        query = select(
            u.c.institution, u.c.primary_id, u.c.id, literal(kind.value), literal(now),
            literal(0),
        ).where(u.c.id.in_(part), has_copy)
        # Counted from RETURNING: the drivers' rowcount of INSERT ... SELECT is not reliable.
        result = conn.execute(
            insert(t.network_outbox)
            .from_select(
                ["institution", "link_id", "source_pk", "kind", "created_at", "attempts"], query
            )
            .returning(t.network_outbox.c.id)
        )
        written += len(result.all())
    if written:
        conn.info[_FLAG] = True
    return written


def mark_written(conn: Connection) -> None:
    """Have the engine's listener told after this transaction commits, as if it had written
    outbox rows (a push owed without an outbox row: ``network.host_blocks``)."""
    conn.info[_FLAG] = True


def after_commit(conn: Connection) -> None:
    """Tell the engine's listener when the committed transaction wrote outbox rows."""
    if not conn.info.pop(_FLAG, False):
        return
    with _lock:
        listener = _listeners.get(conn.engine)
    if listener is not None:
        listener()


def discard(conn: Connection) -> None:
    """The transaction was rolled back: its outbox rows are gone with it."""
    conn.info.pop(_FLAG, None)
