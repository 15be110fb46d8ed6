"""Taking a fuhyo change (附票本人確認情報の更新): once, checked, never half-applied.

CS, fuhyo prefecture server and national fuhyo server take a fuhyo change
the same way, in one transaction, like ledger.py takes a resident change:
a change id already decided is answered as before; the change is decided
(records.fuhyo_lifecycle.decide, reading the file through `DatabaseView`);
a new version is inserted and the index updated; where there is a next hop
it is queued, sealed, in the outbox.

A fuhyo is kept by one municipality, whose CS sends its changes through one
ordered outbox, so they arrive in order. A fuhyo moving between
municipalities (転籍) has changes from two CSs, which may arrive in either
order: the new municipality's entry, and its later changes, are held
(held_changes, record "fuhyo") until the former municipality's removal is
applied, then taken in the order they were received; a held change still
refused then is settled REJECTED with its reason, which the sender learns
when it asks again (outbox.py). Anything else that does not fit the
person's current state is refused at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes.ledger import (
    APPLIED,
    FUHYO,
    HELD,
    Decision,
    Intake,
    previous_decision,
    rejected,
    remember,
    settle,
)
from jukinet.changes.versions import store_version
from jukinet.core.clock import today_in_japan
from jukinet.core.errors import RefusedError
from jukinet.records import fuhyo, fuhyo_lifecycle, scope
from jukinet.records.lifecycle import Hold
from jukinet.storage.schema import fuhyo_current, fuhyo_versions, held_changes

K = fuhyo_pb.FuhyoNoticeKind
_HELD_FOR = (
    select(held_changes)
    .where(held_changes.c.person_key == bindparam("code"), held_changes.c.record == FUHYO)
    .order_by(held_changes.c.received_at, held_changes.c.change_id)
)


class DatabaseView:
    """records.fuhyo_lifecycle.FuhyoView over the node's database, inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def current(self, code: str) -> Row[Any] | None:
        return fuhyo.current(self._conn, code)

    def has_waiting(self, code: str) -> bool:
        return self._conn.execute(_HELD_FOR.limit(1), {"code": code}).first() is not None


def store_fuhyo_version(
    conn: Connection,
    change: fuhyo_pb.FuhyoChange,
    now: dt.datetime,
    *,
    served: bool,
    move_index: bool = True,
) -> None:
    """Insert a version of `change.record` (served at once or awaiting the tier above) and point
    the index at it (versions.store_version)."""
    store_version(
        conn,
        fuhyo_versions,
        fuhyo_current,
        change.record.juminhyo_code,
        lambda version: fuhyo.version_values(
            change, version=version, recorded_at=now, served=served
        ),
        fuhyo.index_row,
        move_index=move_index,
    )


def _apply(
    conn: Connection,
    change: fuhyo_pb.FuhyoChange,
    now_on_file: Row[Any] | None,
    at: dt.datetime,
    intake: Intake,
) -> None:
    """Store the new version, served at once where this node can decide it alone
    (records/scope.py); a code change first removes the old code's fuhyo."""
    code_change = change.record.notice_kind == K.FUHYO_NOTICE_KIND_CODE_CHANGE
    served_before = None if now_on_file is None else fuhyo.is_served(now_on_file)
    served = scope.served_when_stored(
        decides_alone=not intake.forward, served_before=served_before, new_code=code_change
    )
    if code_change and now_on_file is not None:
        old = fuhyo.record_of(now_on_file)
        old.status = fuhyo_pb.FUHYO_STATUS_REMOVED
        old.notice_kind = K.FUHYO_NOTICE_KIND_CODE_CHANGE
        old.change_date = change.record.change_date
        store_fuhyo_version(
            conn,
            fuhyo_pb.FuhyoChange(
                change_id=change.change_id, municipality_code=change.municipality_code, record=old
            ),
            at,
            served=bool(served_before),
        )
    store_fuhyo_version(conn, change, at, served=served)


def _decide_and_write(conn: Connection, change: fuhyo_pb.FuhyoChange, intake: Intake) -> Decision:
    """Apply (store, queue) or hold one change; RefusedError having written nothing."""
    now = intake.clock.now()
    verdict = fuhyo_lifecycle.decide(change, DatabaseView(conn), today_in_japan(intake.clock))
    if isinstance(verdict, Hold):
        conn.execute(
            insert(held_changes),
            {
                "change_id": change.change_id,
                "person_key": change.record.juminhyo_code,
                "sequence_number": 0,
                "sender": intake.sender,
                "payload": intake.vault.seal_at_rest(change),
                "received_at": now,
                "record": FUHYO,
            },
        )
        return HELD
    _apply(conn, change, verdict.now, now, intake)
    intake.queue(conn, change, now)
    return APPLIED


def release_held(conn: Connection, code: str, intake: Intake) -> None:
    """Take the person's held changes in the order received, until one must wait still."""
    for row in conn.execute(_HELD_FOR, {"code": code}).all():
        waiting = intake.vault.open_at_rest(row.payload, fuhyo_pb.FuhyoChange)
        attempt = conn.begin_nested()
        conn.execute(delete(held_changes).where(held_changes.c.change_id == row.change_id))
        try:
            decision = _decide_and_write(
                conn, waiting, dataclasses.replace(intake, sender=row.sender)
            )
        except RefusedError as refusal:
            attempt.commit()  # only the held row is gone
            settle(conn, waiting.change_id, rejected(refusal))
            continue
        if decision is HELD:  # must wait still: leave it where it was, and those behind it
            attempt.rollback()
            return
        attempt.commit()
        settle(conn, waiting.change_id, decision)


def take_fuhyo_change(conn: Connection, change: fuhyo_pb.FuhyoChange, intake: Intake) -> Decision:
    """Apply, hold or refuse one fuhyo change in the caller's transaction (see the module
    docstring).

    On RefusedError nothing has been written. It is queued for
    `intake.destination` when `intake.forward` (a CS sends fuhyo changes to
    its FUHYO_HOP, a fuhyo server to its NEXT_HOP, the national fuhyo server
    nowhere).
    """
    previous = previous_decision(conn, change.change_id)
    if previous is not None:
        return previous
    decision = _decide_and_write(conn, change, intake)
    remember(conn, change.change_id, intake, decision)
    if decision is APPLIED:
        release_held(conn, change.record.juminhyo_code, intake)
    return decision
