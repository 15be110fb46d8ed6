"""Replay protection: an envelope's message id is accepted once within the time window.

The ids live in the node's database (table seen_envelopes), written in the
same transaction that applies the envelope's payload, so a restart forgets
nothing and a failed apply does not burn the id. Ids older than twice the
window are purged: an envelope that old is refused by its timestamp anyway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, bindparam, delete, insert, select

from juki.v1 import envelope_pb2
from jukinet.core.errors import Reason, RefusedError
from jukinet.sealing.envelope import DEFAULT_WINDOW
from jukinet.storage.schema import seen_envelopes

# Built once, not per envelope (#18).
_SEEN = select(seen_envelopes.c.message_id).where(
    seen_envelopes.c.message_id == bindparam("message_id")
)
_FORGET_OLDER = delete(seen_envelopes).where(seen_envelopes.c.seen_at < bindparam("before"))
_REMEMBER = insert(seen_envelopes)


def remember(
    conn: Connection,
    header: envelope_pb2.EnvelopeHeader,
    *,
    window: dt.timedelta = DEFAULT_WINDOW,
    now: dt.datetime,
) -> None:
    """Record the envelope's id; raise ENVELOPE_REPLAYED if it was seen before."""
    seen = conn.execute(_SEEN, {"message_id": header.message_id}).first()
    if seen is not None:
        raise RefusedError(Reason.ENVELOPE_REPLAYED)
    conn.execute(_FORGET_OLDER, {"before": now - 2 * window})
    conn.execute(
        _REMEMBER, {"message_id": header.message_id, "sender": header.sender, "seen_at": now}
    )
