"""Taking a fuhyo change (附票本人確認情報の更新): once, checked, never half-applied.

CS, fuhyo prefecture server and national fuhyo server take a fuhyo change
the same way, in one transaction, like ledger.py takes a resident change:
a change id already decided is answered as before; the change is decided
(records.fuhyo_lifecycle.decide, reading the file through `DatabaseView`);
a new version is inserted and the index updated; where there is a next hop
it is queued, sealed, in the outbox.

There is no holding back: a fuhyo is kept by one municipality, whose CS
sends its changes through one ordered outbox, so a fuhyo's changes arrive in
order. A change that does not fit the person's current state is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes.batches import take_batch
from jukinet.changes.ledger import (
    APPLIED,
    Decision,
    Intake,
    previous_decision,
    remember,
    store_version,
)
from jukinet.core.clock import today_in_japan
from jukinet.records import fuhyo, fuhyo_lifecycle
from jukinet.storage.schema import fuhyo_current, fuhyo_versions

K = fuhyo_pb.FuhyoNoticeKind


class DatabaseView:
    """records.fuhyo_lifecycle.FuhyoView over the node's database, inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def current(self, code: str) -> Row[Any] | None:
        return fuhyo.current(self._conn, code)


def _store(conn: Connection, change: fuhyo_pb.FuhyoChange, now: dt.datetime) -> None:
    """Insert a version of `change.record` and point the index at it."""
    store_version(
        conn,
        fuhyo_versions,
        fuhyo_current,
        change.record.juminhyo_code,
        lambda version: fuhyo.version_values(change, version=version, recorded_at=now),
        fuhyo.index_row,
    )


def _apply(
    conn: Connection, change: fuhyo_pb.FuhyoChange, now_on_file: Row[Any] | None, at: dt.datetime
) -> None:
    """Store the new version; a code change first removes the old code's fuhyo."""
    if change.record.notice_kind == K.FUHYO_NOTICE_KIND_CODE_CHANGE and now_on_file is not None:
        old = fuhyo.record_of(now_on_file)
        old.status = fuhyo_pb.FUHYO_STATUS_REMOVED
        old.notice_kind = K.FUHYO_NOTICE_KIND_CODE_CHANGE
        old.change_date = change.record.change_date
        _store(
            conn,
            fuhyo_pb.FuhyoChange(
                change_id=change.change_id, municipality_code=change.municipality_code, record=old
            ),
            at,
        )
    _store(conn, change, at)


def take_fuhyo_change(conn: Connection, change: fuhyo_pb.FuhyoChange, intake: Intake) -> Decision:
    """Apply or refuse one fuhyo change in the caller's transaction (see the module docstring).

    On RefusedError nothing has been written. It is queued for
    `intake.destination` when `intake.forward` (a CS sends fuhyo changes to
    its FUHYO_HOP, a fuhyo server to its NEXT_HOP, the national fuhyo server
    nowhere).
    """
    previous = previous_decision(conn, change.change_id)
    if previous is not None:
        return previous
    now = intake.clock.now()
    on_file = fuhyo_lifecycle.decide(change, DatabaseView(conn), today_in_japan(intake.clock))
    _apply(conn, change, on_file, now)
    intake.queue(conn, change, now)
    remember(conn, change.change_id, intake, APPLIED)
    return APPLIED


def take_fuhyo_batch(
    conn: Connection, changes: Sequence[fuhyo_pb.FuhyoChange], intake: Intake
) -> list[common_pb2.ChangeResult]:
    """A delivered batch of fuhyo changes, taken one by one (batches.take_batch)."""
    return take_batch(conn, changes, intake, take_fuhyo_change)
