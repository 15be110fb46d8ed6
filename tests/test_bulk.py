"""storage/bulk: batch writes leave exactly what SQLAlchemy's insert leaves, on both databases."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from jukinet.changes.outbox import OutboxState
from jukinet.core.logs import exception_without_values
from jukinet.storage import Database, as_utc, bulk
from jukinet.storage.schema import outbox, received_changes
from tests.helpers.postgres import round_trips

NOW = dt.datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _outbox_rows(prefix: str, count: int) -> list[dict[str, Any]]:
    """Rows leaving out the columns with client-side defaults (attempts, rejection_reason…)."""
    return [
        {
            "change_id": f"{prefix}-{i}",
            "payload": bytes([i % 256, 0, 92, 10, 255]) * 3,  # NUL, backslash, newline
            "state": OutboxState.PENDING,
            "created_at": NOW,
            "next_attempt_at": NOW + dt.timedelta(seconds=i),
            "destination": "next_hop",
        }
        for i in range(count)
    ]


def _stored(db: Database, prefix: str) -> list[tuple[Any, ...]]:
    columns = [c for c in outbox.columns if c.name != "id"]
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(*columns).where(outbox.c.change_id.like(f"{prefix}-%")).order_by(outbox.c.id)
        ).all()
    return [tuple(as_utc(v) if isinstance(v, dt.datetime) else v for v in row[1:]) for row in rows]


def test_insert_rows_leaves_what_insert_leaves(db: Database) -> None:
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with db.transaction() as conn:
        bulk.insert_rows(conn, outbox, _outbox_rows("bulk", 300))
    bulk_statements = [s for s in statements if "outbox" in s]
    with db.transaction() as conn:
        conn.execute(insert(outbox), _outbox_rows("plain", 300))
    assert _stored(db, "bulk") == _stored(db, "plain")
    assert len(_stored(db, "bulk")) == 300
    stored = _stored(db, "bulk")[0]
    assert stored[3] == 0 and stored[4] == ""  # attempts, rejection_reason: their defaults
    # Straight through the driver (COPY; SQLite's executemany), not SQLAlchemy's statements.
    assert bulk_statements == []


def test_small_batches_go_in_together_in_one_round_trip(db: Database) -> None:
    """Batches of fewer than COPY_FROM_ROWS rows: on PostgreSQL their INSERTs in one round trip
    (psycopg's pipeline; a COPY is two), on SQLite the driver's executemany; either way
    through the driver, and stored as SQLAlchemy's insert stores them."""
    few = bulk.COPY_FROM_ROWS - 1
    received = [
        {"change_id": f"few-{i}", "sender": "s", "outcome": 1, "received_at": NOW} for i in range(2)
    ]
    postgresql = db.engine.dialect.name == "postgresql"
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with db.transaction() as conn, round_trips(conn) if postgresql else nullcontext([]) as trips:
        bulk.insert_batches(
            conn, [(outbox, _outbox_rows("few", few)), (received_changes, received)]
        )
    assert statements == []
    with db.transaction() as conn:
        conn.execute(insert(outbox), _outbox_rows("plain", few))
    assert _stored(db, "few") == _stored(db, "plain") and len(_stored(db, "few")) == few
    with db.engine.connect() as conn:
        stored = conn.execute(select(received_changes.c.change_id)).scalars().all()
    assert sorted(stored) == ["few-0", "few-1"]
    assert len(trips) == (2 if postgresql else 0)  # BEGIN, then both batches


@pytest.mark.parametrize("size", [bulk.COPY_FROM_ROWS - 2, bulk.COPY_FROM_ROWS + 1])
def test_a_failing_row_writes_none_of_the_batch(db: Database, size: int) -> None:
    rows = [
        {"change_id": f"c-{i}", "sender": "s", "outcome": 1, "received_at": NOW}
        for i in range(size)
    ]
    rows.append(dict(rows[0]))  # a duplicate primary key
    with pytest.raises(IntegrityError), db.transaction() as conn:
        bulk.insert_rows(conn, received_changes, rows)
    with db.engine.connect() as conn:
        assert conn.execute(select(received_changes.c.change_id)).all() == []


def test_reserved_ids_are_never_given_again(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(insert(outbox), _outbox_rows("before", 3))
    with db.transaction() as conn:
        reserved = bulk.reserve_ids(conn, outbox, 50)
        rows = _outbox_rows("reserved", 50)
        for row, reserved_id in zip(rows, reserved, strict=True):
            row["id"] = reserved_id
        bulk.insert_rows(conn, outbox, rows)
    with db.transaction() as conn:
        conn.execute(insert(outbox), _outbox_rows("after", 3))
    with db.engine.connect() as conn:
        ids = dict(conn.execute(select(outbox.c.change_id, outbox.c.id)).all())
    assert reserved == sorted(set(reserved))
    assert min(reserved) > max(ids[f"before-{i}"] for i in range(3))
    assert min(ids[f"after-{i}"] for i in range(3)) > max(reserved)
    assert [ids[f"reserved-{i}"] for i in range(50)] == reserved


def test_one_of_matches_what_in_matches(db: Database) -> None:
    with db.transaction() as conn:
        bulk.insert_rows(conn, outbox, _outbox_rows("member", 700))
    wanted = [f"member-{i}" for i in range(0, 700, 3)] + ["member-none", "other-1"]
    with db.engine.connect() as conn:
        found = conn.execute(
            select(outbox.c.change_id).where(bulk.one_of(conn, outbox.c.change_id, wanted))
        ).scalars()
        assert sorted(found) == sorted(wanted[:-2])
        assert (
            conn.execute(select(outbox.c.id).where(bulk.one_of(conn, outbox.c.id, []))).all() == []
        )


def test_a_database_error_does_not_carry_the_row(db: Database) -> None:
    """A failed statement's error never holds the row's values (SQLAlchemy's parameters are
    hidden); what the driver's own message quotes (PostgreSQL's DETAIL names the duplicate
    key) is withheld where errors leave the process: the log (and gRPC, test_unexpected_errors)."""
    secret, key = "SENDER-SECRET-4711", "CHANGE-ID-0815"
    row = {"change_id": key, "sender": secret, "outcome": 1, "received_at": NOW}
    with db.transaction() as conn:
        conn.execute(insert(received_changes), [row])
    for write in (
        lambda conn: conn.execute(insert(received_changes), [row]),
        lambda conn: conn.execute(insert(received_changes), [row, {**row, "change_id": "x"}]),
        lambda conn: bulk.insert_rows(conn, received_changes, [row]),
    ):
        with pytest.raises(IntegrityError) as raised, db.transaction() as conn:
            write(conn)
        assert secret not in str(raised.value)
        logged = exception_without_values(raised.value)
        assert secret not in logged and key not in logged and "IntegrityError" in logged


def test_reads_after_plan_for_the_values_never_use_a_generic_plan(db: Database) -> None:
    """Run often, a statement is prepared and PostgreSQL may switch it to a generic plan made
    without the array's values; `plan_for_the_values` keeps every execution planned for them."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("plans are PostgreSQL's")
    read = select(received_changes.c.change_id)
    with db.engine.connect() as conn:
        # The server's choice, made certain: generic plans whenever a statement is prepared.
        conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        conn.commit()
        for i in range(12):  # psycopg prepares from the 5th; PostgreSQL tries generic from the 6th
            with conn.begin():
                bulk.plan_for_the_values(conn)
                conn.execute(read.where(bulk.one_of(conn, received_changes.c.change_id, [f"c{i}"])))
        plans = conn.execute(
            text("SELECT generic_plans, custom_plans FROM pg_prepared_statements")
        ).all()
        prepared = [p for p in plans if p.custom_plans]
        assert prepared and all(p.generic_plans == 0 for p in prepared)
        # LOCAL: the session's own setting is back after each transaction.
        assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_generic_plan"
