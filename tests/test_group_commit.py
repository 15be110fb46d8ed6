"""The provision log's group commit and read-only snapshots, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent import futures

import pytest
from sqlalchemy import func, select

from jukinet.provision.log import PROVIDED, Entry, ProvisionLog
from jukinet.storage import Database
from jukinet.storage.schema import provision_log


def _entry(i: int) -> Entry:
    return Entry(
        caller="spiffe://juki.example/organ/14/tax-office",
        recipient="spiffe://juki.example/organ/14/tax-office",
        operator_id="clerk",
        task_id="pref5-prefectural-tax",
        request_id=f"{i:036d}",
        key_kind="juminhyo_code",
        key_hash="0" * 64,
        outcome=PROVIDED,
    )


def _rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(provision_log)).scalar_one())


def test_concurrent_callers_all_return_with_their_entries_committed(db: Database) -> None:
    log = ProvisionLog(db, b"k" * 32)
    with futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: log.commit([_entry(i), _entry(i + 1000)]), range(64)))
    assert _rows(db) == 128


def test_a_failed_commit_is_raised_and_the_next_one_still_works(db: Database) -> None:
    log = ProvisionLog(db, b"k" * 32)
    broken = _entry(1)
    object.__setattr__(broken, "outcome", None)  # NOT NULL violated
    with pytest.raises(Exception, match=r"(?i)null"):
        log.commit([broken])
    log.commit([_entry(2)])
    assert _rows(db) == 1


def test_a_reader_does_not_hold_up_a_writer(db: Database) -> None:
    log = ProvisionLog(db, b"k" * 32)
    written = threading.Event()
    with db.reading() as conn:
        conn.execute(select(func.count()).select_from(provision_log)).scalar_one()
        writer = threading.Thread(target=lambda: (log.commit([_entry(3)]), written.set()))
        writer.start()
        assert written.wait(5), "the write waited for the reader"
    writer.join()
    assert _rows(db) == 1
