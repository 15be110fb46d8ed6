"""The turn to write on SQLite (storage/writers.py): urgent transactions first, reentrant."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jukinet.storage.writers import WriterTurn


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "the waiters did not line up"
        time.sleep(0.005)


def test_an_urgent_writer_goes_before_ordinary_ones_that_waited_longer() -> None:
    turn = WriterTurn()
    order: list[str] = []
    waiting = threading.Semaphore(0)

    def write(name: str, urgent: bool) -> None:
        waiting.release()
        with turn.held(urgent=urgent):
            order.append(name)

    writers = [
        threading.Thread(target=write, args=(name, name == "urgent"))
        for name in ("first", "second", "urgent")
    ]
    with turn.held():
        for writer in writers:
            writer.start()
            waiting.acquire()
            time.sleep(0.05)  # each is waiting for the turn before the next one comes
        _until(lambda: turn._urgent_waiting == 1)
    for writer in writers:
        writer.join(5)
    assert order[0] == "urgent"
    assert sorted(order[1:]) == ["first", "second"]


def test_the_thread_holding_the_turn_can_take_it_again() -> None:
    turn = WriterTurn()
    done = threading.Event()

    def nested() -> None:
        with turn.held(), turn.held(urgent=True), turn.held():
            done.set()

    worker = threading.Thread(target=nested)
    worker.start()
    assert done.wait(5), "a nested transaction waited for its own thread"
    worker.join(5)
    with turn.held(urgent=True):  # and it was let go
        pass


def test_an_ordinary_writer_waits_for_the_urgent_one_and_then_goes() -> None:
    turn = WriterTurn()
    urgent_holds, urgent_may_go, wrote = threading.Event(), threading.Event(), threading.Event()

    def urgent_write() -> None:
        with turn.held(urgent=True):
            urgent_holds.set()
            urgent_may_go.wait(5)

    def ordinary_write() -> None:
        with turn.held():
            wrote.set()

    urgent = threading.Thread(target=urgent_write)
    ordinary = threading.Thread(target=ordinary_write)
    with turn.held():
        urgent.start()
        _until(lambda: turn._urgent_waiting == 1)
        ordinary.start()
    assert urgent_holds.wait(5)
    assert not wrote.wait(0.1), "an ordinary writer wrote while the urgent one held the turn"
    urgent_may_go.set()
    assert wrote.wait(5), "the ordinary writer was kept waiting after the urgent one was done"
    for thread in (urgent, ordinary):
        thread.join(5)
