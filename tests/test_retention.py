"""Retention with an injected clock, on SQLite and PostgreSQL: history and removed persons
after 150 years, provision-log entries after 7 years, finished outbox rows after 90 days."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select, update

from juki.v1 import common_pb2
from jukinet.changes import ledger
from jukinet.dev import synthetic
from jukinet.provision.log import Entry, ProvisionLog
from jukinet.runtime import retention
from jukinet.sealing.envelope import Sealer
from jukinet.storage import Database
from jukinet.storage.schema import (
    consistency_differences,
    consistency_runs,
    outbox,
    provision_log,
    resident_current,
    resident_versions,
)

SENDER = "spiffe://juki.example/cs/141003"


def _take(db: Database, vault: Sealer, change: common_pb2.Change) -> None:
    with db.transaction() as conn:
        ledger.take_change(conn, change, ledger.Intake(sender=SENDER, vault=vault, forward=True))


def _count(db: Database, table: object, *where: object) -> int:
    with db.engine.connect() as conn:
        statement = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(conn.execute(statement.where(*where)).scalar_one())  # type: ignore[arg-type]


def _purge(db: Database, now: dt.datetime) -> retention.Purged:
    with db.transaction() as conn:
        return retention.purge(conn, now)


def test_retention_periods(db: Database, vault: Sealer) -> None:
    rng = random.Random(77)
    living = synthetic.birth("141003", rng)
    moved = synthetic.follow(living, common_pb2.CHANGE_REASON_MOVE_WITHIN, rng=rng)
    moved.record.address.text = "港町1番"
    dead = synthetic.birth("141003", rng)
    death = synthetic.follow(dead, common_pb2.CHANGE_REASON_DEATH, rng=rng)
    for change in (living, moved, dead, death):
        _take(db, vault, change)
    log = ProvisionLog(db, b"k" * 32)
    now = dt.datetime.now(dt.UTC)
    entry = Entry(
        caller="c",
        recipient="r",
        operator_id="o",
        task_id="t",
        request_id="",
        key_kind="juminhyo_code",
        key_hash="h",
        outcome="provided",
    )
    with db.transaction() as conn:
        ProvisionLog.write(conn, [entry], now=now)
    assert log.keyed_hash("x", "1") != ProvisionLog(db, b"j" * 32).keyed_hash("x", "1")
    with db.transaction() as conn:
        conn.execute(update(outbox).values(state=2, finished_at=now))

    # Nothing is due yet, nor after 6 years or 149 years (except what those periods allow).
    assert _purge(db, now) == retention.Purged(0, 0, 0, 0)
    assert _purge(db, now + dt.timedelta(days=6 * 365)).provisions == 0
    assert _purge(db, now + dt.timedelta(days=91)).outbox_rows == 0  # already purged at 6 y
    assert _count(db, outbox) == 0
    assert _purge(db, now + dt.timedelta(days=8 * 365)).provisions == 1
    assert _count(db, provision_log) == 0
    before = retention.years_before(now, -149)
    assert _purge(db, before) == retention.Purged(0, 0, 0, 0)
    assert _count(db, resident_versions) == 4

    # After 150 years: the dead person is gone entirely, the living keeps only the latest version.
    purged = _purge(db, retention.years_before(now, -151))
    assert (purged.persons, purged.versions) == (1, 1)
    code = living.record.juminhyo_code
    assert _count(db, resident_current) == 1
    assert _count(db, resident_versions, resident_versions.c.juminhyo_code == code) == 1
    assert (
        _count(
            db, resident_versions, resident_versions.c.juminhyo_code == dead.record.juminhyo_code
        )
        == 0
    )
    with db.engine.connect() as conn:
        kept = conn.execute(select(resident_versions.c.address_text)).scalar_one()
    assert kept == "港町1番"


def test_years_before_handles_leap_day() -> None:
    leap = dt.datetime(2028, 2, 29, tzinfo=dt.UTC)
    assert retention.years_before(leap, 7) == dt.datetime(2021, 2, 28, tzinfo=dt.UTC)


def test_consistency_runs_go_after_ninety_days(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as conn:
        for run_id, age in (("1" * 36, 91), ("2" * 36, 89)):
            conn.execute(
                consistency_runs.insert(),
                {
                    "run_id": run_id,
                    "municipality_code": "141003",
                    "file": 1,
                    "finished_at": now - dt.timedelta(days=age),
                    "report": b"",
                },
            )
            conn.execute(
                consistency_differences.insert(),
                {"run_id": run_id, "juminhyo_code": "20010090017", "kind": 1, "repair": 1},
            )
    assert _purge(db, now).consistency_runs == 1
    assert _count(db, consistency_runs) == _count(db, consistency_differences) == 1
