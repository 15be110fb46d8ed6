"""Taking a batch of changes: each change on its own, its refusal remembered, one result each.

A delivered batch (or a register system's SubmitChanges) is taken in order
with one function taking one change of its kind (`Take`: ledger.take_change,
fuhyo_ledger.take_fuhyo_change); a change the sender may not speak for, or
one that is refused, is answered REJECTED and remembered, and leaves the
other changes of its batch untouched. batch_plan.py takes resident batches
set-wise with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from juki.v1 import common_pb2
from jukinet.changes.ledger import Decision, Identified, Intake, is_kept, rejected, remember
from jukinet.core.errors import Reason, RefusedError

C = TypeVar("C", bound=Identified)
C_contra = TypeVar("C_contra", bound=Identified, contravariant=True)


class Take(Protocol[C_contra]):
    """How a node takes one change of some kind (`take_change`, fuhyo_ledger.take_fuhyo_change)."""

    def __call__(self, conn: Connection, change: C_contra, intake: Intake) -> Decision: ...


def take_delivered_change(conn: Connection, change: C, intake: Intake, take: Take[C]) -> Decision:
    """`take` for a change of a batch: a refusal is remembered and answered, not raised.

    `intake.check_origin` first refuses a change the sender may not speak for
    (another municipality's or prefecture's). Each change gets a savepoint,
    so a refused change leaves the others of its batch untouched.
    """
    try:
        intake.check_origin(change)
        with conn.begin_nested():
            return take(conn, change, intake)
    except RefusedError as refusal:
        decision = rejected(refusal)
        if is_kept(change.change_id):
            with conn.begin_nested():
                remember(conn, change.change_id, intake, decision)
        return decision


MAX_BATCH = 500


def check_batch_size(changes: Sequence[Any]) -> None:
    """BAD_BATCH_SIZE for a batch that is empty or larger than MAX_BATCH."""
    if not 1 <= len(changes) <= MAX_BATCH:
        raise RefusedError(Reason.BAD_BATCH_SIZE, f"a batch must hold 1..{MAX_BATCH} changes")


def take_batch(
    conn: Connection, changes: Sequence[C], intake: Intake, take: Take[C]
) -> list[common_pb2.ChangeResult]:
    """Take every change of a batch in order with `take`; one result per change."""
    check_batch_size(changes)
    return [
        take_delivered_change(conn, change, intake, take).as_result(change.change_id)
        for change in changes
    ]


class TakeBatch(Protocol[C_contra]):
    """How a node takes a batch of one kind of change (batch_plan, fuhyo_ledger)."""

    def __call__(
        self, conn: Connection, changes: Sequence[C_contra], intake: Intake
    ) -> list[common_pb2.ChangeResult]: ...
