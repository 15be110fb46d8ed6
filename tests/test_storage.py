"""Storage on SQLite and a real PostgreSQL server: migrations, exactly-once, outbox, audit."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from opentelemetry import trace
from sqlalchemy import event, func, insert, select, text, update

from juki.v1 import common_pb2
from jukinet.changes import batches, counts, ledger
from jukinet.changes.outbox import (
    Deliverer,
    Hop,
    OutboxState,
    count_by_state,
    first_in,
    high_water,
    pending_up_to,
    waiting,
)
from jukinet.core.config import NEXT_HOP
from jukinet.dev import synthetic
from jukinet.sealing.envelope import Sealer
from jukinet.storage import Database, open_database
from jukinet.storage.outbox_state import DESTINATIONS, partial_index
from jukinet.storage.schema import audit_log, outbox, resident_versions
from jukinet.transparency import tlog, verify
from jukinet.trust.audit import AuditLog
from tests.helpers.postgres import round_trips


def test_migrations_are_idempotent(db: Database) -> None:
    open_database(str(db.engine.url.render_as_string(hide_password=False))).dispose()
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(resident_versions)).scalar_one() == 0


def test_a_change_is_taken_once_and_queued(db: Database, vault: Sealer) -> None:
    change = synthetic.birth("141003", random.Random(1))
    intake = ledger.Intake(
        sender="spiffe://juki.example/register/141003", vault=vault, forward=True
    )
    with db.transaction() as conn:
        first = ledger.take_change(conn, change, intake)
    with db.transaction() as conn:
        second = ledger.take_change(conn, change, intake)
    assert (first, second) == (ledger.APPLIED, ledger.DUPLICATE)
    with db.engine.connect() as conn:
        assert counts.resident_count(conn) == 1
        assert count_by_state(conn)[OutboxState.PENDING] == 1


def test_a_refused_change_in_a_batch_leaves_the_others(db: Database, vault: Sealer) -> None:
    good = synthetic.birth("141003", random.Random(2))
    bad = synthetic.birth("141003", random.Random(3))
    bad.record.juminhyo_code = good.record.juminhyo_code  # a second birth for the same code
    batch = common_pb2.ChangeBatch(changes=[good, bad])
    intake = ledger.Intake(sender="x", vault=vault, forward=False)
    with db.transaction() as conn:
        results = batches.take_batch(conn, batch.changes, intake, ledger.take_change)
    assert [r.outcome for r in results] == [
        common_pb2.CHANGE_OUTCOME_APPLIED,
        common_pb2.CHANGE_OUTCOME_REJECTED,
    ]
    assert results[1].reason == "BIRTH_FOR_EXISTING_CODE"
    with db.engine.connect() as conn:
        assert counts.resident_count(conn) == 1
    # Re-delivery of the batch: the same answers, nothing more applied.
    with db.transaction() as conn:
        again = batches.take_batch(conn, batch.changes, intake, ledger.take_change)
    assert [r.outcome for r in again] == [
        common_pb2.CHANGE_OUTCOME_DUPLICATE,
        common_pb2.CHANGE_OUTCOME_REJECTED,
    ]


def _audit_findings(db: Database) -> list[str]:
    with db.reading() as conn:
        return [str(f) for f in verify.rows_against_leaves(conn, tlog.AUDIT)]


def test_audit_log_under_concurrent_writers_and_tamper_detection(db: Database) -> None:
    audit = AuditLog(db)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                audit.append(
                    actor=f"spiffe://juki.example/operator/14/op{n}",
                    action="/m",
                    outcome="ok",
                    reason=str(i),
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _audit_findings(db) == []
    with db.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 90
        conn.execute(update(audit_log).where(audit_log.c.seq == 40).values(outcome="refused"))
    assert _audit_findings(db) == [
        "altered at index 39: the row does not match the leaf at its place"
    ]


def test_a_log_append_reads_its_last_index_with_its_lock_in_one_round_trip(db: Database) -> None:
    """An append places its rows after the last leaf. On PostgreSQL, inside its transaction:
    BEGIN, then the log's lock with the read of the last index, then the rows with their
    leaves — three round trips (five before #18's fix 24)."""
    postgresql = db.engine.dialect.name == "postgresql"
    row = {"at": dt.datetime.now(dt.UTC), "actor": "a", "action": "/m", "outcome": "ok"}
    placed = []
    for rows in ([row], [row, row]):
        with (
            db.transaction() as conn,
            round_trips(conn) if postgresql else nullcontext([]) as trips,
        ):
            placed.append(tlog.append(conn, tlog.AUDIT, [{**r, "reason": ""} for r in rows]))
        assert len(trips) == (3 if postgresql else 0)
    assert placed == [[0], [1, 2]]
    assert _audit_findings(db) == []


def _add_outbox_entries(db: Database, state: OutboxState, count: int) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "change_id": str(uuid.uuid4()),
            "payload": b"\xab" * 300,
            "state": state,
            "created_at": now,
            "next_attempt_at": now,
        }
        for _ in range(count)
    ]
    with db.transaction() as conn:
        conn.execute(insert(outbox), rows)


def _plan(db: Database, state: OutboxState, hop: str = NEXT_HOP) -> str:
    """How the database runs a deliverer's fetch of entries in `state` (values inlined)."""
    statement = first_in(state, hop, 500).compile(
        dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return "\n".join(str(row[-1]) for row in conn.execute(text(explain + str(statement))))


def test_a_deliverer_fetch_does_not_walk_delivered_entries(db: Database) -> None:
    # Statistics taken while a third of the entries were pending (a backlog), then 20,000
    # delivered entries ahead of the pending ones: the fetch must go by the partial index, not
    # by the primary key past every delivered entry (what PostgreSQL chose with (state, id)).
    _add_outbox_entries(db, OutboxState.DELIVERED, 2_700)
    _add_outbox_entries(db, OutboxState.PENDING, 1_300)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    with db.transaction() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.state == OutboxState.PENDING)
            .values(state=OutboxState.DELIVERED)
        )
    _add_outbox_entries(db, OutboxState.DELIVERED, 18_000)
    _add_outbox_entries(db, OutboxState.PENDING, 10_000)
    assert "ix_outbox_pending_next_hop" in _plan(db, OutboxState.PENDING)
    assert "ix_outbox_held_next_hop" in _plan(db, OutboxState.HELD)


def test_a_deliverer_fetch_stops_at_its_limit_before_there_are_statistics(db: Database) -> None:
    # A table filled from empty (P1 at a new node) has no statistics yet: the fetch must still
    # read the oldest entries in index order, not gather every pending one and sort them
    # (PostgreSQL did with one partial index per state for both hops: 13-25 ms a batch of 500).
    _add_outbox_entries(db, OutboxState.PENDING, 5_000)
    for state in (OutboxState.PENDING, OutboxState.HELD):
        for hop in DESTINATIONS:
            plan = _plan(db, state, hop)
            assert partial_index(state, hop) in plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_the_counts_of_waiting_entries_go_by_the_partial_indexes(db: Database) -> None:
    # The outbox depth (metrics, each scrape) and the consistency check's "sent up to here?"
    # must read only the entries that wait, never the delivered ones piling up.
    _add_outbox_entries(db, OutboxState.DELIVERED, 2_000)
    _add_outbox_entries(db, OutboxState.PENDING, 30)
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    with db.reading() as conn:
        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            depth = {hop: n for hop, n, _ in waiting(conn, dt.datetime.now(dt.UTC))}
            left = pending_up_to(conn, NEXT_HOP, high_water(conn, NEXT_HOP))
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
        explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
        counting = [(q, p) for q, p in statements if "count(*)" in q]
        plans = [
            "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + q, p))
            for q, p in counting
        ]
    assert depth == {NEXT_HOP: 30} and left == 30
    assert len(plans) == len(DESTINATIONS) + 1
    assert all("ix_outbox_pending_" in plan for plan in plans), plans


def test_a_deliverer_sends_while_another_transaction_writes(db: Database) -> None:
    # Its fetch is a read: on SQLite it must not queue for the write lock behind the node's
    # callers (a fetch opened BEGIN IMMEDIATE and waited seconds while P1 entered changes).
    _add_outbox_entries(db, OutboxState.PENDING, 3)
    sent = threading.Event()

    def send(payloads: Sequence[bytes]) -> list[common_pb2.ChangeResult]:
        sent.set()
        return []  # not answered: the entries stay pending

    deliverer = Deliverer(db, Hop(send), batch_size=500, tracer=trace.get_tracer(__name__))
    with db.transaction() as conn:
        conn.execute(update(outbox).values(attempts=0))  # holds the write lock until the end
        deliverer.start()
        try:
            assert sent.wait(5), "the deliverer's fetch waited for the writer"
        finally:
            deliverer.stop(timeout=0)
    deliverer.stop()
