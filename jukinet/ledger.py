"""Applying a change to a node's record store, exactly once.

The CS, the prefecture server and the national server all take a change the
same way, in one transaction:

1. (1) a change id already decided here is answered as before, nothing done
   (re-delivery after a lost acknowledgement);
2. (2) the change's own fields are checked again (no hop trusts the previous);
3. (3) the change is checked against the stored records (e.g. a birth for a
   住民票コード that already exists is refused);
4. (4) the new version is inserted (history is never overwritten), the change
   id remembered, and, where there is a next hop, the change queued in the
   outbox, sealed (`queue` seals it to the node itself; see envelope.py).

A refused change leaves no record version and no outbox entry behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from sqlalchemy import Connection, func, insert, select

from juki.v1 import common_pb2
from jukinet import outbox, validation
from jukinet.errors import RefusedError
from jukinet.storage.schema import received_changes, resident_versions

JST = dt.timezone(dt.timedelta(hours=9), "JST")


def today_in_japan() -> dt.date:
    """The register's calendar date (Japan has one time zone and no DST)."""
    return dt.datetime.now(JST).date()


@dataclass(frozen=True)
class Decision:
    """What this node did with one change."""

    outcome: common_pb2.ChangeOutcome.ValueType
    reason: str = ""

    def as_result(self, change_id: str) -> common_pb2.ChangeResult:
        """The wire form sent back to the delivering node."""
        return common_pb2.ChangeResult(
            change_id=change_id, outcome=self.outcome, reason=self.reason
        )


APPLIED = Decision(common_pb2.CHANGE_OUTCOME_APPLIED)
DUPLICATE = Decision(common_pb2.CHANGE_OUTCOME_DUPLICATE)


def birth_for_existing_code() -> RefusedError:
    """A birth names a 住民票コード that already has a record."""
    return RefusedError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "BIRTH_FOR_EXISTING_CODE",
        "a birth must not name a resident record code that already has a record",
    )


def _current_version(conn: Connection, juminhyo_code: str) -> int:
    version = conn.execute(
        select(func.max(resident_versions.c.version)).where(
            resident_versions.c.juminhyo_code == juminhyo_code
        )
    ).scalar_one()
    return int(version or 0)


def _check_against_store(conn: Connection, change: common_pb2.Change) -> int:
    """(3): the rules that need the stored records; returns the new version number."""
    current = _current_version(conn, change.record.juminhyo_code)
    if change.reason == common_pb2.CHANGE_REASON_BIRTH and current:
        raise birth_for_existing_code()
    return current + 1


def _insert_version(
    conn: Connection, change: common_pb2.Change, version: int, now: dt.datetime
) -> None:
    r = change.record
    conn.execute(
        insert(resident_versions).values(
            juminhyo_code=r.juminhyo_code,
            version=version,
            change_id=change.change_id,
            change_reason=change.reason,
            change_date=change.change_date,
            municipality_code=change.municipality_code,
            my_number=r.my_number,
            name_kanji=r.name_kanji,
            name_kana=r.name_kana,
            birth_date=r.birth_date,
            sex=r.sex,
            address_municipality_code=r.address.municipality_code,
            address_text=r.address.text,
            recorded_at=now,
        )
    )


def _previous_decision(conn: Connection, change_id: str) -> Decision | None:
    row = conn.execute(
        select(received_changes.c.outcome, received_changes.c.reason).where(
            received_changes.c.change_id == change_id
        )
    ).first()
    if row is None:
        return None
    if row.outcome == common_pb2.CHANGE_OUTCOME_REJECTED:
        return Decision(common_pb2.CHANGE_OUTCOME_REJECTED, row.reason)
    return DUPLICATE


def _remember(conn: Connection, change_id: str, sender: str, decision: Decision) -> None:
    conn.execute(
        insert(received_changes).values(
            change_id=change_id,
            sender=sender,
            outcome=decision.outcome,
            reason=decision.reason,
            received_at=outbox.utcnow(),
        )
    )


# Seals a change for this node's own outbox; None on the last hop.
Queue = Callable[[common_pb2.Change], bytes] | None


def take_change(
    conn: Connection,
    change: common_pb2.Change,
    *,
    sender: str,
    queue: Queue,
) -> Decision:
    """Apply `change` in the caller's transaction, or raise RefusedError.

    (1)-(4) of the module docstring. On RefusedError nothing has been
    written; the caller decides whether to remember the refusal.
    """
    previous = _previous_decision(conn, change.change_id)  # (1)
    if previous is not None:
        return previous
    validation.check_change(change, today_in_japan())  # (2)
    version = _check_against_store(conn, change)  # (3)
    _insert_version(conn, change, version, outbox.utcnow())  # (4)
    _remember(conn, change.change_id, sender, APPLIED)
    if queue is not None:
        outbox.enqueue(conn, change_id=change.change_id, payload=queue(change))
    return APPLIED


def take_delivered_change(
    conn: Connection,
    change: common_pb2.Change,
    *,
    sender: str,
    queue: Queue,
    check_origin: Callable[[common_pb2.Change], None],
) -> Decision:
    """`take_change` for a delivered batch: a refusal is remembered and answered, not raised.

    `check_origin` first refuses a change the delivering node may not speak
    for (another municipality's or prefecture's). Each change gets a
    savepoint, so a refused change leaves the others of its batch untouched.
    """
    try:
        check_origin(change)
        with conn.begin_nested():
            return take_change(conn, change, sender=sender, queue=queue)
    except RefusedError as refusal:
        decision = Decision(common_pb2.CHANGE_OUTCOME_REJECTED, refusal.reason)
        with conn.begin_nested():
            _remember(conn, change.change_id, sender, decision)
        return decision


def resident_count(conn: Connection) -> int:
    """Persons with at least one record version on this node."""
    return int(
        conn.execute(
            select(func.count(func.distinct(resident_versions.c.juminhyo_code)))
        ).scalar_one()
    )


def applied_count(conn: Connection) -> int:
    """Changes applied on this node."""
    return int(
        conn.execute(
            select(func.count()).where(
                received_changes.c.outcome == common_pb2.CHANGE_OUTCOME_APPLIED
            )
        ).scalar_one()
    )


MAX_BATCH = 500


def batch_size_error() -> RefusedError:
    """A delivered batch that is empty or larger than MAX_BATCH."""
    return RefusedError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_BATCH_SIZE",
        f"a batch must hold 1..{MAX_BATCH} changes",
    )


def take_batch(
    conn: Connection,
    batch: common_pb2.ChangeBatch,
    *,
    sender: str,
    queue: Queue,
    check_origin: Callable[[common_pb2.Change], None],
) -> list[common_pb2.ChangeResult]:
    """Take every change of a delivered batch in order; one result per change."""
    if not 1 <= len(batch.changes) <= MAX_BATCH:
        raise batch_size_error()
    return [
        take_delivered_change(
            conn, change, sender=sender, queue=queue, check_origin=check_origin
        ).as_result(change.change_id)
        for change in batch.changes
    ]


def origin_mismatch() -> RefusedError:
    """A delivered change the delivering node may not speak for."""
    return RefusedError(
        grpc.StatusCode.PERMISSION_DENIED,
        "ORIGIN_MISMATCH",
        "the change belongs to a municipality outside the sender's jurisdiction",
    )
