"""Taking a change into a node's record store: exactly once, in order, never half-applied.

The CS, the prefecture server and the national server all take a change the
same way, in one transaction:

1. (1) a change id already decided here is answered as before, nothing done
   (re-delivery after a lost acknowledgement);
2. (2) the change is decided (records.lifecycle.decide: its own fields, the
   person's current state, other persons' codes and My Numbers), reading
   the store through `DatabaseView`: applied now, held back until an
   earlier change of the person arrives, or refused;
3. (3) the versions the decision names are inserted (history is never
   overwritten), the current-state index updated, the change id remembered
   and, where there is a next hop, the change queued in the outbox sealed to
   the node itself;
4. (4) changes of the same person held back for this one are taken next,
   in sequence order.

A refused change leaves no version, no outbox entry and no held entry behind.
A batch is taken change by change with `take_change` (batches.py), or planned
set-wise with the same decision (batch_plan.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from google.protobuf import message as protobuf_message
from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from juki.v1 import common_pb2
from jukinet.changes import outbox, versions
from jukinet.core import metrics
from jukinet.core.clock import SYSTEM, Clock, today_in_japan
from jukinet.core.config import NEXT_HOP
from jukinet.core.errors import Reason, RefusedError
from jukinet.records import lifecycle, residents, validation
from jukinet.storage.schema import (
    held_changes,
    received_changes,
    resident_current,
)

M = TypeVar("M", bound=protobuf_message.Message)
# Which record a held change is of (held_changes.record).
RESIDENT, FUHYO = "resident", "fuhyo"


class Identified(Protocol):
    """A change of any kind: it has an id."""

    @property
    def change_id(self) -> str: ...


C = TypeVar("C", bound=Identified)
C_contra = TypeVar("C_contra", bound=Identified, contravariant=True)


class Vault(Protocol):
    """Seals what a node keeps for later (outbox, held changes) to itself; see envelope.Sealer."""

    def seal_at_rest(self, payload: protobuf_message.Message) -> bytes: ...

    def open_at_rest(self, sealed: bytes, payload_type: type[M]) -> M: ...

    def seal_all_at_rest(self, payloads: Sequence[protobuf_message.Message]) -> list[bytes]: ...

    def open_all_at_rest(self, items: Sequence[bytes], payload_type: type[M]) -> list[M]: ...


def _from_anyone(change: Any) -> None:
    """`check_origin` where the caller was checked before (a CS's own register system)."""


@dataclass(frozen=True, kw_only=True)
class Intake:
    """Where changes come from and what this node does with what it takes.

    sender: the SPIFFE ID remembered with each decision (the register system
        or the delivering node).
    vault: seals what is kept for later (held changes, outbox entries).
    forward: queue applied changes for `destination` (this node has a hop).
    check_origin: refuses a change of a batch the sender may not speak for;
        that refusal is remembered like any other (`take_delivered_change`).
    clock: the time versions, decisions and queued entries are stamped with.
    """

    sender: str
    vault: Vault
    forward: bool
    destination: str = NEXT_HOP
    check_origin: Callable[[Any], None] = _from_anyone
    clock: Clock = SYSTEM

    def queue(self, conn: Connection, change: Identified, now: dt.datetime) -> None:
        """Queue an applied change for `destination`, sealed to this node, if it forwards."""
        if self.forward:
            payload = self.vault.seal_at_rest(change)  # type: ignore[arg-type]
            outbox.enqueue(
                conn, [(change.change_id, payload)], destination=self.destination, now=now
            )


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


def accepted(decision: Decision) -> common_pb2.ChangeOutcome.ValueType:
    """The outcome of a change taken one at a time (SubmitChange): APPLIED, DUPLICATE or HELD;
    a refusal this change id met before is raised again as the refusal it was, so that a
    change sent again is never read as accepted."""
    if decision.outcome == common_pb2.CHANGE_OUTCOME_REJECTED:
        raise RefusedError(Reason.known(decision.reason))
    return decision.outcome


def rejected(refusal: RefusedError) -> Decision:
    """The decision remembered for a refused change."""
    return Decision(common_pb2.CHANGE_OUTCOME_REJECTED, refusal.reason)


# The statements run for every change, built once: building a statement costs more than
# SQLite running it (bench P1).
_CURRENT = residents.current_versions().where(resident_current.c.juminhyo_code == bindparam("code"))
_MY_NUMBER_HOLDER = select(resident_current.c.juminhyo_code).where(
    resident_current.c.my_number == bindparam("my_number"),
    resident_current.c.removed.is_(False),
    resident_current.c.juminhyo_code != bindparam("one"),
    resident_current.c.juminhyo_code != bindparam("other"),
)
_WAITING = select(held_changes.c.change_id).where(
    held_changes.c.person_key == bindparam("code"), held_changes.c.record == RESIDENT
)
_DECIDED = select(received_changes.c.outcome, received_changes.c.reason).where(
    received_changes.c.change_id == bindparam("change_id")
)
_NEXT_HELD = (
    select(held_changes)
    .where(
        held_changes.c.person_key == bindparam("key"),
        held_changes.c.sequence_number == bindparam("sequence_number"),
        held_changes.c.record == RESIDENT,
    )
    .order_by(held_changes.c.received_at)
    .limit(1)
)


class DatabaseView:
    """records.lifecycle.ResidentView over the node's database, inside one transaction."""

    def __init__(self, conn: Connection, *, decides_alone: bool) -> None:
        self._conn = conn
        self.decides_alone = decides_alone

    def current(self, code: str) -> lifecycle.Current | None:
        row = self._conn.execute(_CURRENT, {"code": code}).first()
        return None if row is None else residents.current_of(row)

    def my_number_held_by_another(self, my_number: str, person: frozenset[str]) -> bool:
        # A person is known under one code, or two during a code change: plain parameters,
        # not an expanding IN, so the statement is the same every time (bench P1, PostgreSQL).
        one, other = min(person), max(person)
        found = self._conn.execute(
            _MY_NUMBER_HOLDER, {"my_number": my_number, "one": one, "other": other}
        ).first()
        return found is not None

    def has_waiting(self, code: str) -> bool:
        return self._conn.execute(_WAITING, {"code": code}).first() is not None


def _decide_and_write(
    conn: Connection, change: common_pb2.Change, intake: Intake
) -> tuple[Decision, bool]:
    """(2)-(3) for one change: the decision, and whether held changes wait for it.

    Raises RefusedError having written nothing.
    """
    now = intake.clock.now()
    view = DatabaseView(conn, decides_alone=not intake.forward)
    verdict = lifecycle.decide(change, view, today_in_japan(intake.clock))
    if isinstance(verdict, lifecycle.Hold):
        conn.execute(
            insert(held_changes).values(
                change_id=change.change_id,
                person_key=lifecycle.person_key(change),
                sequence_number=change.sequence_number,
                sender=intake.sender,
                payload=intake.vault.seal_at_rest(change),
                received_at=now,
                record=RESIDENT,
            )
        )
        return HELD, False
    for record, removed, served in verdict.versions:
        versions.store_resident_version(
            conn, change, record, removed=removed, now=now, served=served
        )
    intake.queue(conn, change, now)
    return APPLIED, verdict.releases_held


def release_held(conn: Connection, change: common_pb2.Change, intake: Intake) -> None:
    """(4): take, in order, the changes that waited for `change`."""
    while True:
        row = conn.execute(
            _NEXT_HELD,
            {"key": change.record.juminhyo_code, "sequence_number": change.sequence_number + 1},
        ).first()
        if row is None:
            return
        conn.execute(delete(held_changes).where(held_changes.c.change_id == row.change_id))
        waiting = intake.vault.open_at_rest(row.payload, common_pb2.Change)
        try:
            with conn.begin_nested():
                decision, releases = _decide_and_write(
                    conn, waiting, dataclasses.replace(intake, sender=row.sender)
                )
        except RefusedError as refusal:
            settle(conn, waiting.change_id, rejected(refusal))
            return
        settle(conn, waiting.change_id, decision)
        if decision is not APPLIED or not releases:
            return
        change = waiting


def answer_again(previous: Decision) -> Decision:
    """How a change id decided before is answered: refused or held as it was, else DUPLICATE."""
    if previous.outcome in (common_pb2.CHANGE_OUTCOME_REJECTED, common_pb2.CHANGE_OUTCOME_HELD):
        return previous
    return DUPLICATE


def previous_decision(conn: Connection, change_id: str) -> Decision | None:
    """How to answer a change id decided before (None if it is new here)."""
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


def count(decisions: Iterable[tuple[int, str]]) -> None:
    """Count decisions, given as (outcome, reason), in the node's metrics: one update per
    outcome and reason, not per change (#18: a counter update per change of a 500-change batch
    cost more than deciding it)."""
    for (outcome, reason), n in Counter(decisions).items():
        name = common_pb2.ChangeOutcome.Name(outcome).removeprefix("CHANGE_OUTCOME_")  # type: ignore[arg-type]
        metrics.CHANGES.add(n, {"outcome": name.lower(), "reason": reason})


def remember(conn: Connection, change_id: str, intake: Intake, decision: Decision) -> None:
    """Remember the decision on `change_id` (so a re-delivery is answered the same way)."""
    count([(decision.outcome, decision.reason)])
    conn.execute(
        insert(received_changes),
        decision_row(change_id, intake.sender, decision, intake.clock.now()),
    )


def settle(conn: Connection, change_id: str, decision: Decision) -> None:
    """Record what finally happened to a change that was held."""
    conn.execute(
        update(received_changes)
        .where(received_changes.c.change_id == change_id)
        .values(outcome=decision.outcome, reason=decision.reason)
    )


def take_change(conn: Connection, change: common_pb2.Change, intake: Intake) -> Decision:
    """Apply, hold or refuse `change` in the caller's transaction; (1)-(4) above.

    On RefusedError nothing has been written; the caller decides whether to
    remember the refusal.
    """
    previous = previous_decision(conn, change.change_id)  # (1)
    if previous is not None:
        return previous
    decision, releases = _decide_and_write(conn, change, intake)
    remember(conn, change.change_id, intake, decision)
    if releases:
        release_held(conn, change, intake)
    return decision
