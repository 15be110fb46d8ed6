"""Store-and-forward delivery to the next hop from a durable outbox.

Each entry names its hop (NEXT_HOP, or FUHYO_HOP for a CS's fuhyo changes);
one `Deliverer` per hop.

A change is written to the outbox in the same transaction that stores it, so
it is either both stored and queued or neither. A single background
`Deliverer` per node and hop sends pending entries oldest first, in batches,
and marks them delivered only after the next hop answered; if the hop is down
or refuses the whole batch the entries stay and are retried with capped
exponential backoff, and the log says which (the refusal's status and reason).
The next hop recognises re-deliveries by change id (see ledger.py), so a
batch sent twice (its answer was lost) is never applied twice.

A change the next hop holds back (an earlier change of the person has not
reached it yet) is not finished: its entry becomes HELD and is sent again
now and then (HELD_RECHECK_S, doubling up to HELD_RECHECK_MAX_S). The next
hop answers a re-delivery as it decided: HELD while it still waits, then
DUPLICATE once applied, or REJECTED with the reason it finally refused it,
which is how the sender learns a held change's final outcome.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import trace
from sqlalchemy import Connection, Select, bindparam, func, select, update

from juki.v1 import common_pb2
from jukinet.core import metrics
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.config import NEXT_HOP
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.telemetry import context_from_traceparent, current_traceparent, span_context_of
from jukinet.storage import Database, as_utc, bulk
from jukinet.storage.outbox_state import DESTINATIONS, waiting_for
from jukinet.storage.outbox_state import OutboxState as OutboxState
from jukinet.storage.schema import outbox

log = logging.getLogger(__name__)

MIN_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
IDLE_POLL_S = 1.0
HELD_RECHECK_S = 2.0
HELD_RECHECK_MAX_S = 300.0


@dataclass(frozen=True)
class Pending:
    """One entry ready to send."""

    id: int
    change_id: str
    payload: bytes
    trace_context: str
    attempts: int


def high_water(conn: Connection, destination: str) -> int:
    """The id of the newest entry queued for `destination` (0 if none)."""
    found = conn.execute(
        select(func.max(outbox.c.id)).where(outbox.c.destination == destination)
    ).scalar()
    return int(found or 0)


def pending_up_to(conn: Connection, destination: str, up_to: int) -> int:
    """How many entries for `destination` up to id `up_to` still wait to be sent."""
    return int(
        conn.execute(
            select(func.count()).where(
                waiting_for(outbox.c.state, outbox.c.destination, OutboxState.PENDING, destination),
                outbox.c.id <= up_to,
            )
        ).scalar_one()
    )


def states_of(conn: Connection, change_ids: Sequence[str]) -> dict[str, OutboxState]:
    """The state of each of `change_ids` in the outbox (those queued here)."""
    found: dict[str, OutboxState] = {}
    for start in range(0, len(change_ids), 500):
        rows = conn.execute(
            select(outbox.c.change_id, outbox.c.state).where(
                outbox.c.change_id.in_(change_ids[start : start + 500])
            )
        )
        found.update({row.change_id: OutboxState(row.state) for row in rows})
    return found


def first_in(state: OutboxState, destination: str, limit: int) -> Select[Any]:
    """The oldest `limit` entries in `state` for `destination`: what a deliverer fetches
    (through that state's and hop's partial index: outbox_state.waiting_for)."""
    return (
        select(
            outbox.c.id,
            outbox.c.change_id,
            outbox.c.payload,
            outbox.c.trace_context,
            outbox.c.attempts,
            outbox.c.next_attempt_at,
        )
        .where(waiting_for(outbox.c.state, outbox.c.destination, state, destination))
        .order_by(outbox.c.id)
        .limit(limit)
    )


# Sends payloads (in order) to the next hop; returns one result per payload. Raises
# RefusedError if the hop refused the whole batch or did not answer.
Sender = Callable[[Sequence[bytes]], Sequence[common_pb2.ChangeResult]]
# What this node does with the next hop's answers about its entries, in the transaction that
# records them (changes/above.py): each answered entry with its answer.
Settle = Callable[[Connection, Sequence[tuple["Pending", common_pb2.ChangeResult]]], None]
# The answers an entry is finished or held by; any other (one this version does not know) is
# not taken for delivered: the entry is sent again later.
_ANSWERS = frozenset(
    {
        common_pb2.CHANGE_OUTCOME_APPLIED,
        common_pb2.CHANGE_OUTCOME_DUPLICATE,
        common_pb2.CHANGE_OUTCOME_HELD,
        common_pb2.CHANGE_OUTCOME_REJECTED,
    }
)


def _nothing_to_settle(conn: Connection, answered: Sequence[tuple[Pending, Any]]) -> None:
    """A hop whose answers need nothing more than the entries' states (tests, benchmarks)."""


@dataclass(frozen=True)
class Hop:
    """How an outbox reaches one next hop: `send` batches there, `settle` what it decided;
    `peer` is its SPIFFE ID, recorded as who refused an entry it rejects."""

    send: Sender
    settle: Settle = _nothing_to_settle
    peer: str = ""


def enqueue(
    conn: Connection,
    entries: Sequence[tuple[str, bytes]],
    *,
    destination: str = NEXT_HOP,
    now: dt.datetime,
) -> None:
    """Queue (change id, sealed payload) pairs for the hop `destination`, in the order given,
    inside the caller's transaction.

    The active trace context is stored with them so the delivery continues
    the same trace.
    """
    trace_context = current_traceparent()
    bulk.insert_rows(
        conn,
        outbox,
        [
            {
                "change_id": change_id,
                "payload": payload,
                "trace_context": trace_context,
                "state": OutboxState.PENDING,
                "attempts": 0,
                "rejection_reason": "",
                "created_at": now,
                "next_attempt_at": now,
                "destination": destination,
            }
            for change_id, payload in entries
        ],
    )


def count_by_state(conn: Connection) -> dict[OutboxState, int]:
    """How many outbox entries are in each state."""
    rows = conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
    counts = dict.fromkeys(OutboxState, 0)
    counts.update({OutboxState(state): n for state, n in rows})
    return counts


def waiting(conn: Connection, now: dt.datetime) -> list[tuple[str, int, float]]:
    """(destination, pending entries, seconds the oldest has waited) per destination with any:
    one statement per hop, each through that hop's partial index (not past delivered entries)."""
    found = []
    for hop in DESTINATIONS:
        count, oldest = conn.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(
                waiting_for(outbox.c.state, outbox.c.destination, OutboxState.PENDING, hop)
            )
        ).one()
        if count:
            found.append((hop, int(count), (now - as_utc(oldest)).total_seconds()))
    return found


def _backoff(attempts: int) -> dt.timedelta:
    base = min(MAX_BACKOFF_S, MIN_BACKOFF_S * 2 ** min(attempts, 10))
    return dt.timedelta(seconds=base * (0.5 + random.random() / 2))  # noqa: S311 - jitter only


_FINISH = update(outbox).where(outbox.c.id == bindparam("entry"))


def _recheck_after(attempts: int) -> dt.timedelta:
    """How long a held entry waits before it is asked about again."""
    return dt.timedelta(seconds=min(HELD_RECHECK_MAX_S, HELD_RECHECK_S * 2 ** min(attempts, 10)))


def _postpone(conn: Connection, entry: Pending, now: dt.datetime) -> None:
    """Count a failed attempt and schedule the next one after a backoff."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == entry.id)
        .values(attempts=entry.attempts + 1, next_attempt_at=now + _backoff(entry.attempts))
    )


class Deliverer:
    """The background thread that drains one node's outbox entries for one hop."""

    def __init__(
        self,
        db: Database,
        hop: Hop,
        *,
        batch_size: int,
        tracer: trace.Tracer,
        destination: str = NEXT_HOP,
        clock: Clock = SYSTEM,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        """`leader()`: whether this process delivers this hop now (replicas take turns; one
        delivers at a time, so a person's changes leave in order)."""
        self._db = db
        self._clock = clock
        self._leader = leader
        self._destination = destination
        self._hop = hop
        self._batch_size = batch_size
        self._tracer = tracer
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"outbox-{destination}", daemon=True)

    def start(self) -> None:
        """Start delivering (pending entries from earlier runs included)."""
        self._thread.start()

    def notify(self) -> None:
        """Something was queued: deliver now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the batch in flight, if any."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _rows(self, state: OutboxState) -> list[Any]:
        # A read: on SQLite it must not wait for the write lock the node's callers hold (#18).
        with self._db.reading() as conn:
            return list(conn.execute(first_in(state, self._destination, self._batch_size)).all())

    def _due(self) -> list[Pending]:
        """Pending entries in order (stopping at the first still backing off); else held ones
        whose recheck is due (they need no order: the next hop has them)."""
        now = self._clock.now()
        due: list[Pending] = []
        for row in self._rows(OutboxState.PENDING):
            if as_utc(row.next_attempt_at) > now:
                break
            due.append(Pending(row.id, row.change_id, row.payload, row.trace_context, row.attempts))
        if due:
            return due
        return [
            Pending(row.id, row.change_id, row.payload, row.trace_context, row.attempts)
            for row in self._rows(OutboxState.HELD)
            if as_utc(row.next_attempt_at) <= now
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self._leader is not None and not self._leader():
                    self._wake.wait(IDLE_POLL_S)  # another replica delivers this hop
                    continue
                batch = self._due()
                if batch:
                    self._deliver(batch)
                    continue
            except Exception:
                log.exception("outbox delivery loop failed; retrying")
            self._wake.wait(IDLE_POLL_S)

    def _deliver(self, batch: list[Pending]) -> None:
        first, *rest = batch
        # One link per other trace the batch carries (changes of one call share theirs).
        others = dict.fromkeys(p.trace_context for p in rest if p.trace_context)
        others.pop(first.trace_context, None)
        links = [trace.Link(span_context_of(t)) for t in others]
        with self._tracer.start_as_current_span(
            "outbox.deliver",
            context=context_from_traceparent(first.trace_context),
            links=links,
            attributes={"juki.outbox.batch_size": len(batch)},
        ) as span:
            try:
                results = self._hop.send([p.payload for p in batch])
            except RefusedError as refusal:
                span.set_attribute("juki.outbox.retry", True)
                span.set_attribute("juki.outbox.refusal", refusal.reason)
                what = "unavailable" if refusal.code is grpc.StatusCode.UNAVAILABLE else "refused"
                log.warning(
                    "%s: next hop %s the batch (%s [%s]); %d change(s) wait",
                    self._destination,
                    what,
                    refusal.code.name,
                    refusal.reason,
                    len(batch),
                    extra={"reason": refusal.reason},
                )
                metrics.DELIVERIES.add(1, {"destination": self._destination, "outcome": what})
                self._retry_later(batch)
                return
            metrics.DELIVERIES.add(1, {"destination": self._destination, "outcome": "sent"})
            self._record(batch, results)

    def _retry_later(self, batch: list[Pending]) -> None:
        now = self._clock.now()
        with self._db.transaction(urgent=True) as conn:
            for p in batch:
                _postpone(conn, p, now)

    def _record(self, batch: list[Pending], results: Sequence[common_pb2.ChangeResult]) -> None:
        by_id = {r.change_id: r for r in results}
        now = self._clock.now()
        delivered: list[int] = []
        rejected: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        answered: list[tuple[Pending, common_pb2.ChangeResult]] = []
        with self._db.transaction(urgent=True) as conn:
            for p in batch:
                result = by_id.get(p.change_id)
                if result is None or result.outcome not in _ANSWERS:  # try again later
                    _postpone(conn, p, now)
                    continue
                answered.append((p, result))
                if result.outcome == common_pb2.CHANGE_OUTCOME_HELD:
                    held.append(
                        {
                            "entry": p.id,
                            "state": OutboxState.HELD,
                            "attempts": p.attempts + 1,
                            "next_attempt_at": now + _recheck_after(p.attempts),
                        }
                    )
                elif result.outcome == common_pb2.CHANGE_OUTCOME_REJECTED:
                    rejected.append(
                        {
                            "entry": p.id,
                            "state": OutboxState.REJECTED,
                            "attempts": p.attempts + 1,
                            "rejection_reason": Reason.known(result.reason),
                            "rejected_by": self._hop.peer,
                            "finished_at": now,
                        }
                    )
                else:
                    delivered.append(p.id)
            metrics.DELIVERED_CHANGES.add(
                len(delivered) + len(rejected), {"destination": self._destination}
            )
            if delivered:  # most of a batch: one statement, one array parameter (bulk.one_of)
                conn.execute(
                    update(outbox)
                    .where(bulk.one_of(conn, outbox.c.id, delivered))
                    .values(
                        state=OutboxState.DELIVERED,
                        attempts=outbox.c.attempts + 1,
                        finished_at=now,
                    )
                )
            for rows in (rejected, held):
                if rows:
                    conn.execute(_FINISH, rows)
            self._hop.settle(conn, answered)
