"""Applying a fuhyo change (附票本人確認情報の更新): once, checked, never half-applied.

CS, fuhyo prefecture server and national fuhyo server take a fuhyo change
the same way, in one transaction, like ledger.py takes a resident change:
a change id already decided is answered as before; the change's own fields
are checked again (validation.check_fuhyo_change); it is judged against the
person's fuhyo (`judge` below); a new version is inserted and the index
updated; where there is a next hop it is queued, sealed, in the outbox.

There is no holding back: a fuhyo is kept by one municipality, whose CS
sends its changes through one ordered outbox, so a fuhyo's changes arrive in
order. A change that does not fit the person's current state is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes import outbox
from jukinet.changes.ledger import (
    APPLIED,
    Decision,
    Vault,
    previous_decision,
    remember,
    store_version,
    take_batch,
    today_in_japan,
)
from jukinet.core.config import NEXT_HOP
from jukinet.records import fuhyo as fuhyo_records
from jukinet.records import validation
from jukinet.records.lifecycle import refused
from jukinet.storage.schema import fuhyo_current, fuhyo_versions

K = fuhyo_pb.FuhyoNoticeKind
REMOVED = fuhyo_pb.FUHYO_STATUS_REMOVED
EMIGRATED = fuhyo_pb.FUHYO_STATUS_EMIGRATED
_IDENTITY = ("name_kanji", "name_kana", "birth_date", "sex")


def judge(conn: Connection, change: fuhyo_pb.FuhyoChange) -> Row[Any] | None:
    """The person's current fuhyo row (None for a first entry), if the change fits it.

    Raises RefusedError (FAILED_PRECONDITION) for a change that contradicts
    the file: an entry for a person on file, any change for a person not on
    file or removed (removing a removed person: REMOVAL_OF_REMOVED_PERSON),
    a fuhyo kept by another municipality, emigrating twice, returning
    without having emigrated, a correction that changes the status, an
    emigration that changes more than the address items, a new code in use.
    """
    record = change.record
    kind = record.notice_kind
    if kind == K.FUHYO_NOTICE_KIND_CODE_CHANGE:
        if fuhyo_records.current(conn, record.juminhyo_code) is not None:
            raise refused("CODE_ALREADY_IN_USE", "the new resident record code is in use")
        now = fuhyo_records.current(conn, record.former_juminhyo_code)
    else:
        now = fuhyo_records.current(conn, record.juminhyo_code)
    if kind == K.FUHYO_NOTICE_KIND_ENTRY:
        if now is not None and now.status != REMOVED:
            raise refused("ENTRY_FOR_PERSON_ON_FILE", "the person is already on the fuhyo file")
        return now
    if now is None:
        raise refused("PERSON_NOT_ON_FILE", "the person is not on the fuhyo file")
    if now.status == REMOVED:
        if kind == K.FUHYO_NOTICE_KIND_REMOVAL:
            raise refused("REMOVAL_OF_REMOVED_PERSON", "the person is already removed")
        raise refused("CHANGE_FOR_REMOVED_PERSON", "the person's fuhyo is removed")
    if now.keeping_municipality_code != change.municipality_code:
        raise refused("KEPT_BY_ANOTHER_MUNICIPALITY", "another municipality keeps this fuhyo")
    if kind == K.FUHYO_NOTICE_KIND_EMIGRATION:
        if now.status == EMIGRATED:
            raise refused("ALREADY_EMIGRATED", "the person has already emigrated")
        if any(getattr(record, name) != getattr(now, name) for name in _IDENTITY):
            raise refused(
                "EMIGRATION_CHANGES_MORE_THAN_ADDRESS", "an emigration may change only the address"
            )
    if kind == K.FUHYO_NOTICE_KIND_RETURN and now.status != EMIGRATED:
        raise refused("NOT_EMIGRATED", "only an emigrant can return from abroad")
    if kind == K.FUHYO_NOTICE_KIND_CORRECTION and record.status != now.status:
        raise refused("STATUS_CHANGE_NOT_ALLOWED", "a correction may not change the status")
    return now


def _store(conn: Connection, change: fuhyo_pb.FuhyoChange) -> None:
    """Insert a version of `change.record` and point the index at it."""
    store_version(
        conn,
        fuhyo_versions,
        fuhyo_current,
        change.record.juminhyo_code,
        lambda version: fuhyo_records.version_values(
            change, version=version, recorded_at=outbox.utcnow()
        ),
        fuhyo_records.index_row,
    )


def _apply(conn: Connection, change: fuhyo_pb.FuhyoChange, now: Row[Any] | None) -> None:
    """Store the new version; a code change first removes the old code's fuhyo."""
    if change.record.notice_kind == K.FUHYO_NOTICE_KIND_CODE_CHANGE and now is not None:
        old = fuhyo_records.record_of(now)
        old.status = REMOVED
        old.notice_kind = K.FUHYO_NOTICE_KIND_CODE_CHANGE
        old.change_date = change.record.change_date
        _store(
            conn,
            fuhyo_pb.FuhyoChange(
                change_id=change.change_id, municipality_code=change.municipality_code, record=old
            ),
        )
    _store(conn, change)


def take_fuhyo_change(
    conn: Connection,
    change: fuhyo_pb.FuhyoChange,
    *,
    sender: str,
    vault: Vault,
    forward: bool,
    destination: str = NEXT_HOP,
) -> Decision:
    """Apply or refuse one fuhyo change in the caller's transaction (see the module docstring).

    On RefusedError nothing has been written. `destination`: the outbox hop
    it is queued for when `forward` (a CS sends fuhyo changes to its
    FUHYO_HOP, a fuhyo server to its NEXT_HOP, the national fuhyo server
    nowhere).
    """
    previous = previous_decision(conn, change.change_id)
    if previous is not None:
        return previous
    validation.check_fuhyo_change(change, today_in_japan())
    _apply(conn, change, judge(conn, change))
    if forward:
        outbox.enqueue(
            conn,
            change_id=change.change_id,
            payload=vault.seal_at_rest(change),
            destination=destination,
        )
    remember(conn, change.change_id, sender, APPLIED)
    return APPLIED


def take_fuhyo_batch(
    conn: Connection,
    changes: Sequence[fuhyo_pb.FuhyoChange],
    *,
    sender: str,
    vault: Vault,
    forward: bool,
    check_origin: Callable[[fuhyo_pb.FuhyoChange], None],
) -> list[common_pb2.ChangeResult]:
    """A delivered batch of fuhyo changes, taken one by one (ledger.take_batch)."""
    return take_batch(
        conn,
        changes,
        sender=sender,
        vault=vault,
        forward=forward,
        check_origin=check_origin,
        take=take_fuhyo_change,
    )


def fuhyo_count(conn: Connection) -> int:
    """Persons on this node's fuhyo file (emigrants included, removed persons not)."""
    return int(
        conn.execute(select(func.count()).where(fuhyo_current.c.status != REMOVED)).scalar_one()
    )
