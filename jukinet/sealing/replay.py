"""Replay protection: an envelope's message id is accepted once within the time window.

The ids live in the node's database (table seen_envelopes), written in the
same transaction that applies the envelope's payload, so a restart forgets
nothing and a failed apply does not burn the id. An id is recorded by one
``INSERT … ON CONFLICT DO NOTHING RETURNING``: no row back means seen before (and
two transactions racing with one id cannot both insert it). RETURNING, not the
row count: psycopg reports no count for SQLAlchemy's inserts.

Ids older than twice the window are purged (an envelope that old is refused by
its timestamp anyway), by each database connection at most once a window
rather than on every envelope (#18): SQLAlchemy's ``Connection.info`` lives as
long as the pooled connection, so it remembers when that connection last purged.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from juki.v1 import envelope_pb2
from jukinet.core.errors import Reason, RefusedError
from jukinet.sealing.envelope import DEFAULT_WINDOW
from jukinet.storage.schema import seen_envelopes

# Built once, not per envelope (#18).
_REMEMBER = {
    name: insert(seen_envelopes).on_conflict_do_nothing().returning(seen_envelopes.c.message_id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_FORGET_OLDER = delete(seen_envelopes).where(seen_envelopes.c.seen_at < bindparam("before"))
_PURGED_AT = "juki.replay.purged_at"


def remember(
    conn: Connection,
    header: envelope_pb2.EnvelopeHeader,
    *,
    window: dt.timedelta = DEFAULT_WINDOW,
    now: dt.datetime,
) -> None:
    """Record the envelope's id; raise ENVELOPE_REPLAYED if it was seen before."""
    row = {"message_id": header.message_id, "sender": header.sender, "seen_at": now}
    if conn.execute(_REMEMBER[conn.dialect.name], row).first() is None:
        raise RefusedError(Reason.ENVELOPE_REPLAYED)
    purged_at = conn.info.get(_PURGED_AT)
    if purged_at is None or abs(now - purged_at) >= window:
        conn.execute(_FORGET_OLDER, {"before": now - 2 * window})
        conn.info[_PURGED_AT] = now
