"""Replay protection's table (sealing/replay.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from juki.v1 import envelope_pb2
from jukinet.core.errors import RefusedError
from jukinet.sealing import replay
from jukinet.sealing.envelope import DEFAULT_WINDOW
from jukinet.storage import Database
from jukinet.storage.schema import seen_envelopes

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SENDER = "spiffe://juki.example/cs/141003"


def _header() -> envelope_pb2.EnvelopeHeader:
    return envelope_pb2.EnvelopeHeader(sender=SENDER, message_id=str(uuid.uuid4()))


def _held(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(select(seen_envelopes.c.message_id)).scalars())


def test_an_id_is_accepted_once(db: Database) -> None:
    header = _header()
    with db.transaction() as conn:
        replay.remember(conn, header, now=T0)
    with pytest.raises(RefusedError) as caught, db.transaction() as conn:
        replay.remember(conn, header, now=T0 + dt.timedelta(seconds=1))
    assert caught.value.reason == "ENVELOPE_REPLAYED"
    assert _held(db) == {header.message_id}


def test_ids_older_than_twice_the_window_are_purged_once_a_window(db: Database) -> None:
    old, recent, later = _header(), _header(), _header()
    with db.transaction() as conn:
        replay.remember(conn, old, now=T0)
    # Within the window of the last purge: nothing is purged yet.
    with db.transaction() as conn:
        replay.remember(conn, recent, now=T0 + DEFAULT_WINDOW / 2)
    assert _held(db) == {old.message_id, recent.message_id}
    # Three windows on, this connection purges: both are older than twice the window.
    with db.transaction() as conn:
        replay.remember(conn, later, now=T0 + 3 * DEFAULT_WINDOW)
    assert _held(db) == {later.message_id}
