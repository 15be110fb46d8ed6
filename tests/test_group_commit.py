"""The provision log's group commit and read-only snapshots, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent import futures

import pytest
from sqlalchemy import Connection, func, select

from jukinet.core.errors import Reason, RefusedError
from jukinet.provision.log import PROVIDED, Entry, ProvisionLog
from jukinet.storage import Database
from jukinet.storage.group_commit import GroupCommit, GroupTransaction
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


def test_what_a_reader_sees_of_a_write_committed_while_it_reads(db: Database) -> None:
    """SQLite: one snapshot for the whole read. PostgreSQL: each statement sees what was
    committed before it began (READ COMMITTED), in autocommit: no transaction is open."""
    log = ProvisionLog(db, b"k" * 32)
    count = select(func.count()).select_from(provision_log)
    with db.reading() as conn:
        before = conn.execute(count).scalar_one()
        log.commit([_entry(4)])
        after = conn.execute(count).scalar_one()
        if db.engine.dialect.name == "postgresql":
            driver = conn.connection.driver_connection
            assert driver is not None and driver.info.transaction_status.name == "IDLE"
    assert (before, after) == (0, 1 if db.engine.dialect.name == "postgresql" else 0)


def test_units_of_work_commit_together_and_one_that_fails_is_rolled_back_alone(
    db: Database,
) -> None:
    """GroupTransaction (the narrow link's answers): each unit in its own savepoint."""
    group = GroupTransaction(db)

    def unit(i: int) -> int:
        def work(conn: Connection) -> int:
            ProvisionLog.write(conn, [_entry(i)], dt.datetime.now(dt.UTC))
            if i % 5 == 0:
                raise RefusedError(Reason.PERSON_NOT_FOUND)  # after its own write
            return i * 2

        return group.run(work)

    outcomes: list[int | str] = []
    with futures.ThreadPoolExecutor(16) as pool:
        for future in [pool.submit(unit, i) for i in range(1, 41)]:
            try:
                outcomes.append(future.result())
            except RefusedError as refusal:
                outcomes.append(refusal.reason)
    assert outcomes == [i * 2 if i % 5 else "PERSON_NOT_FOUND" for i in range(1, 41)]
    assert _rows(db) == 32  # the 8 failed units' rows were rolled back, no one else's


def test_a_unit_alone_in_its_group_commits_or_rolls_back_whole(db: Database) -> None:
    """One caller at a time: no savepoint, the group's transaction is the unit's own."""
    group = GroupTransaction(db)

    def work(i: int) -> Callable[[Connection], int]:
        def unit(conn: Connection) -> int:
            ProvisionLog.write(conn, [_entry(i), _entry(i + 100)], dt.datetime.now(dt.UTC))
            if i == 2:
                raise RefusedError(Reason.PERSON_NOT_FOUND)  # after both of its writes
            return i

        return unit

    assert group.run(work(1)) == 1
    with pytest.raises(RefusedError) as caught:
        group.run(work(2))
    assert caught.value.reason == "PERSON_NOT_FOUND"
    assert group.run(work(3)) == 3
    assert _rows(db) == 4  # units 1 and 3, two rows each; nothing of unit 2


def test_a_caller_alone_commits_in_its_own_thread(db: Database) -> None:
    """No commit under way: the caller commits its work itself, handing it to no thread."""
    writers: list[threading.Thread] = []
    group: GroupCommit[int] = GroupCommit(
        db, lambda conn, items: writers.append(threading.current_thread())
    )
    group.commit([1])
    caller = threading.Thread(target=group.commit, args=([2],))
    caller.start()
    caller.join()
    assert writers == [threading.current_thread(), caller]


def test_work_that_arrives_during_a_commit_is_committed_next_by_one_of_its_callers(
    db: Database,
) -> None:
    """The commit under way fails; the five callers who arrived meanwhile are committed
    together, in one of their own threads, and do not get its error."""
    started, release = threading.Event(), threading.Event()
    groups: list[tuple[list[int], threading.Thread]] = []

    def write(conn: Connection, items: list[int]) -> None:
        groups.append((sorted(items), threading.current_thread()))
        if items == [0]:
            started.set()
            assert release.wait(10)
            raise RuntimeError("the first commit fails")

    group: GroupCommit[int] = GroupCommit(db, write)
    with futures.ThreadPoolExecutor(6) as pool:
        first = pool.submit(group.commit, [0])
        assert started.wait(10)
        waiting = [pool.submit(group.commit, [i]) for i in range(1, 6)]
        while len(group._pending) < 5:  # all five queued behind the first commit
            time.sleep(0.01)
        release.set()
        with pytest.raises(RuntimeError, match="first commit fails"):
            first.result(10)
        for caller in waiting:
            caller.result(10)  # committed: no error
    assert [items for items, _ in groups] == [[0], [1, 2, 3, 4, 5]]
    assert groups[1][1] is not groups[0][1]  # not the first caller's thread, nor a log's own
