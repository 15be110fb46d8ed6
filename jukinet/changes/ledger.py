"""Applying a change to a node's record store: exactly once, in order, never half-applied.

The CS, the prefecture server and the national server all take a change the
same way, in one transaction:

1. (1) a change id already decided here is answered as before, nothing done
   (re-delivery after a lost acknowledgement);
2. (2) the change's own fields are checked again (no hop trusts the previous);
3. (3) the change is judged against the person's current state
   (lifecycle.py): applied now, held back until an earlier change of the
   person arrives, or refused;
4. (4) checks against other persons: a new 住民票コード or a My Number held by
   someone else is refused (CODE_ALREADY_IN_USE, MY_NUMBER_IN_USE);
5. (5) the new version is inserted (history is never overwritten), the
   current-state index updated, the change id remembered and, where there is
   a next hop, the change queued in the outbox sealed to the node itself;
6. (6) changes of the same person held back for this one are applied next,
   in sequence order.

A refused change leaves no version, no outbox entry and no held entry behind.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf import message as protobuf_message
from sqlalchemy import (
    Connection,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from juki.v1 import common_pb2
from jukinet.changes import outbox
from jukinet.core.errors import RefusedError
from jukinet.records import lifecycle, validation
from jukinet.records import residents as records
from jukinet.storage.schema import (
    held_changes,
    received_changes,
    resident_current,
    resident_versions,
)

JST = dt.timezone(dt.timedelta(hours=9), "JST")
M = TypeVar("M", bound=protobuf_message.Message)


class Identified(Protocol):
    """A change of any kind: it has an id."""

    @property
    def change_id(self) -> str: ...


C = TypeVar("C", bound=Identified)
C_contra = TypeVar("C_contra", bound=Identified, contravariant=True)


def today_in_japan() -> dt.date:
    """The register's calendar date (Japan has one time zone and no DST)."""
    return dt.datetime.now(JST).date()


class Vault(Protocol):
    """Seals what a node keeps for later (outbox, held changes) to itself; see envelope.Sealer."""

    def seal_at_rest(self, payload: protobuf_message.Message) -> bytes: ...

    def open_at_rest(self, sealed: bytes, payload_type: type[M]) -> M: ...


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
HELD = Decision(common_pb2.CHANGE_OUTCOME_HELD)


# The statements run for every change, built once: building a statement costs more than
# SQLite running it (bench P1).
_CURRENT = records.current_versions().where(resident_current.c.juminhyo_code == bindparam("code"))
_MY_NUMBER_HOLDER = select(resident_current.c.juminhyo_code).where(
    resident_current.c.my_number == bindparam("my_number"),
    resident_current.c.removed.is_(False),
    resident_current.c.juminhyo_code != bindparam("key"),
    resident_current.c.juminhyo_code != bindparam("code"),
)
_DECIDED = select(received_changes.c.outcome, received_changes.c.reason).where(
    received_changes.c.change_id == bindparam("change_id")
)
_NEXT_HELD = (
    select(held_changes)
    .where(
        held_changes.c.person_key == bindparam("key"),
        held_changes.c.sequence_number == bindparam("sequence_number"),
    )
    .order_by(held_changes.c.received_at)
    .limit(1)
)


def _current(conn: Connection, code: str) -> lifecycle.Current | None:
    row = conn.execute(_CURRENT, {"code": code}).first()
    if row is None:
        return None
    return lifecycle.Current(int(row.sequence_number), bool(row.removed), records.record_of(row))


def _check_others(conn: Connection, change: common_pb2.Change, key: str) -> None:
    """(4): a new code must be unused; a My Number must not be someone else's."""
    code = change.record.juminhyo_code
    if change.reason == common_pb2.CHANGE_REASON_CODE_CHANGE and _current(conn, code) is not None:
        raise lifecycle.refused("CODE_ALREADY_IN_USE", "the new resident record code is in use")
    if lifecycle.removes(change):
        return
    holder = conn.execute(
        _MY_NUMBER_HOLDER, {"my_number": change.record.my_number, "key": key, "code": code}
    ).first()
    if holder is not None:
        raise lifecycle.refused("MY_NUMBER_IN_USE", "the My Number belongs to another person")


def _store(
    conn: Connection,
    change: common_pb2.Change,
    record: common_pb2.ResidentRecord,
    *,
    removed: bool,
) -> None:
    """Insert a version of `record` and point the current-state index at it."""
    store_version(
        conn,
        resident_versions,
        resident_current,
        record.juminhyo_code,
        lambda version: records.version_values(
            change, record, version=version, removed=removed, recorded_at=outbox.utcnow()
        ),
        records.index_row,
    )


@functools.cache
def point_index(current: Table) -> Update:
    """The update of one person's index row (parameter `person`), built once."""
    return update(current).where(current.c.juminhyo_code == bindparam("person"))


@functools.cache
def _version_statements(versions: Table, current: Table) -> tuple[Select[Any], Update]:
    """A person's latest version number, and the update of their index row (built once)."""
    latest = select(func.coalesce(func.max(versions.c.version), 0)).where(
        versions.c.juminhyo_code == bindparam("person")
    )
    return latest, point_index(current)


def store_version(
    conn: Connection,
    versions: Table,
    current: Table,
    code: str,
    values_for: Callable[[int], dict[str, Any]],
    index_row: Callable[[dict[str, Any], int], dict[str, Any]],
) -> None:
    """Insert the person's next version (`values_for(number)`) and point the index row at it.

    How both files are kept (the resident file here, the fuhyo file in
    fuhyo_ledger.py): versions are only inserted, one index row per person
    (`index_row(values, version_id)`) is updated or created.
    """
    latest_version, point_index = _version_statements(versions, current)
    latest = conn.execute(latest_version, {"person": code}).scalar_one()
    values = values_for(int(latest) + 1)
    # Values go in as parameters, not .values(...): the statement is then the same every time
    # and SQLAlchemy compiles it once (bench P1: the per-call .values() was most of the cost).
    key = conn.execute(insert(versions), values).inserted_primary_key
    assert key is not None
    state = index_row(values, key[0])
    updated = conn.execute(point_index, {**state, "person": code}).rowcount
    if not updated:
        conn.execute(insert(current), {"juminhyo_code": code, **state})


def _apply(conn: Connection, change: common_pb2.Change, current: lifecycle.Current | None) -> None:
    """(5): versions and index; a code change removes the old code and starts the new."""
    if change.reason == common_pb2.CHANGE_REASON_CODE_CHANGE and current is not None:
        _store(conn, change, current.record, removed=True)
    _store(conn, change, change.record, removed=lifecycle.removes(change))


def _judge_and_apply(
    conn: Connection, change: common_pb2.Change, *, sender: str, vault: Vault, forward: bool
) -> Decision:
    """(2)-(5) for one change; raises RefusedError having written nothing."""
    validation.check_change(change, today_in_japan())
    key = lifecycle.person_key(change)
    current = _current(conn, key)
    if lifecycle.judge(change, current) is lifecycle.Verdict.HOLD:
        conn.execute(
            insert(held_changes).values(
                change_id=change.change_id,
                person_key=key,
                sequence_number=change.sequence_number,
                sender=sender,
                payload=vault.seal_at_rest(change),
                received_at=outbox.utcnow(),
            )
        )
        return HELD
    _check_others(conn, change, key)
    _apply(conn, change, current)
    if forward:
        outbox.enqueue(conn, change_id=change.change_id, payload=vault.seal_at_rest(change))
    return APPLIED


def _release_held(
    conn: Connection, change: common_pb2.Change, *, vault: Vault, forward: bool
) -> None:
    """(6): apply, in order, the changes that waited for `change`."""
    while True:
        row = conn.execute(
            _NEXT_HELD,
            {"key": change.record.juminhyo_code, "sequence_number": change.sequence_number + 1},
        ).first()
        if row is None:
            return
        conn.execute(delete(held_changes).where(held_changes.c.change_id == row.change_id))
        waiting = vault.open_at_rest(row.payload, common_pb2.Change)
        try:
            with conn.begin_nested():
                decision = _judge_and_apply(
                    conn, waiting, sender=row.sender, vault=vault, forward=forward
                )
        except RefusedError as refusal:
            _settle(
                conn,
                waiting.change_id,
                Decision(common_pb2.CHANGE_OUTCOME_REJECTED, refusal.reason),
            )
            return
        _settle(conn, waiting.change_id, decision)
        if decision is not APPLIED:
            return
        change = waiting


def answer_again(previous: Decision) -> Decision:
    """How a change id decided before is answered: refused or held as it was, else DUPLICATE."""
    if previous.outcome in (common_pb2.CHANGE_OUTCOME_REJECTED, common_pb2.CHANGE_OUTCOME_HELD):
        return previous
    return DUPLICATE


def previous_decision(conn: Connection, change_id: str) -> Decision | None:
    row = conn.execute(_DECIDED, {"change_id": change_id}).first()
    if row is None:
        return None
    return answer_again(Decision(row.outcome, row.reason))


def is_kept(change_id: str) -> bool:
    """Whether a decision on `change_id` is remembered: only under a well-formed id.

    A change with a malformed id is refused for it; the id is neither storable (ids are 36
    characters) nor one a sender could deliver again as the same change.
    """
    return validation.is_uuid(change_id)


def decision_row(
    change_id: str, sender: str, decision: Decision, at: dt.datetime
) -> dict[str, Any]:
    """The received_changes row remembering `decision`."""
    return {
        "change_id": change_id,
        "sender": sender,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "received_at": at,
    }


def remember(conn: Connection, change_id: str, sender: str, decision: Decision) -> None:
    conn.execute(
        insert(received_changes), decision_row(change_id, sender, decision, outbox.utcnow())
    )


def _settle(conn: Connection, change_id: str, decision: Decision) -> None:
    """Record what finally happened to a change that was held."""
    conn.execute(
        update(received_changes)
        .where(received_changes.c.change_id == change_id)
        .values(outcome=decision.outcome, reason=decision.reason)
    )


def take_change(
    conn: Connection,
    change: common_pb2.Change,
    *,
    sender: str,
    vault: Vault,
    forward: bool,
) -> Decision:
    """Apply, hold or refuse `change` in the caller's transaction; (1)-(6) above.

    On RefusedError nothing has been written; the caller decides whether to
    remember the refusal.
    """
    previous = previous_decision(conn, change.change_id)  # (1)
    if previous is not None:
        return previous
    decision = _judge_and_apply(conn, change, sender=sender, vault=vault, forward=forward)
    remember(conn, change.change_id, sender, decision)
    if decision is APPLIED:
        _release_held(conn, change, vault=vault, forward=forward)
    return decision


class Take(Protocol[C_contra]):
    """How a node takes one change of some kind (`take_change`, fuhyo_ledger.take_fuhyo_change)."""

    def __call__(
        self, conn: Connection, change: C_contra, *, sender: str, vault: Vault, forward: bool
    ) -> Decision: ...


def take_delivered_change(
    conn: Connection,
    change: C,
    *,
    sender: str,
    vault: Vault,
    forward: bool,
    check_origin: Callable[[C], None],
    take: Take[C],
) -> Decision:
    """`take_change` for a delivered batch: a refusal is remembered and answered, not raised.

    `check_origin` first refuses a change the delivering node may not speak
    for (another municipality's or prefecture's). Each change gets a
    savepoint, so a refused change leaves the others of its batch untouched.
    """
    try:
        check_origin(change)
        with conn.begin_nested():
            return take(conn, change, sender=sender, vault=vault, forward=forward)
    except RefusedError as refusal:
        decision = Decision(common_pb2.CHANGE_OUTCOME_REJECTED, refusal.reason)
        if is_kept(change.change_id):
            with conn.begin_nested():
                remember(conn, change.change_id, sender, decision)
        return decision


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
    changes: Sequence[C],
    *,
    sender: str,
    vault: Vault,
    forward: bool,
    check_origin: Callable[[C], None],
    take: Take[C],
) -> list[common_pb2.ChangeResult]:
    """Take every change of a delivered batch in order with `take`; one result per change."""
    if not 1 <= len(changes) <= MAX_BATCH:
        raise batch_size_error()
    return [
        take_delivered_change(
            conn,
            change,
            sender=sender,
            vault=vault,
            forward=forward,
            check_origin=check_origin,
            take=take,
        ).as_result(change.change_id)
        for change in changes
    ]


class TakeBatch(Protocol[C]):
    """How a node takes a delivered batch: `take_batch` bound to one kind of change."""

    def __call__(
        self,
        conn: Connection,
        changes: Sequence[C],
        *,
        sender: str,
        vault: Vault,
        forward: bool,
        check_origin: Callable[[C], None],
    ) -> list[common_pb2.ChangeResult]: ...


def origin_mismatch() -> RefusedError:
    """A delivered change the delivering node may not speak for."""
    return RefusedError(
        grpc.StatusCode.PERMISSION_DENIED,
        "ORIGIN_MISMATCH",
        "the change belongs to a municipality outside the sender's jurisdiction",
    )


def resident_count(conn: Connection) -> int:
    """Persons who are current residents according to this node."""
    return int(
        conn.execute(select(func.count()).where(resident_current.c.removed.is_(False))).scalar_one()
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


def held_count(conn: Connection) -> int:
    """Changes waiting for an earlier change of the same person."""
    return int(conn.execute(select(func.count()).select_from(held_changes)).scalar_one())
