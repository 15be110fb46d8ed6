"""The turn to write to a node's SQLite database, taken in this process before SQLite's own lock.

SQLite admits one writer at a time. Waiting on a lock here hands the turn over at
once, where SQLite's busy handler sleeps and polls (up to 100 ms a time), which under
16 concurrent writers turned into second-long tails (#18). A plain lock hands the turn
to whichever waiter wakes first, so a short transaction that others depend on — a
deliverer marking what the next hop took, so that the next batch can leave — waited
behind every caller queued before it: in P1, 1.1–1.3 s per batch while sixteen calls
of 500 changes each were entered, and the changes waited at the CS instead of moving
on to the prefecture on the other core. Such a transaction asks for its turn `urgent`
and is served before the ordinary waiters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriterTurn:
    """A reentrant lock whose urgent waiters go before its ordinary ones.

    Urgent waiters are few and short (one deliverer per hop), so ordinary ones are not
    starved: they wait at most for the urgent transactions already asking.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    @contextmanager
    def held(self, *, urgent: bool = False) -> Iterator[None]:
        """Hold the turn for the block (again, if this thread already holds it)."""
        me = threading.get_ident()
        with self._changed:
            if self._owner != me:
                self._wait_for_turn(urgent)
                self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._changed.notify_all()

    def _wait_for_turn(self, urgent: bool) -> None:
        """Wait (holding the condition) until the turn is free and no urgent waiter is ahead."""
        if urgent:
            self._urgent_waiting += 1
        try:
            while self._owner is not None or (not urgent and self._urgent_waiting):
                self._changed.wait()
        finally:
            if urgent:
                self._urgent_waiting -= 1
                self._changed.notify_all()  # ordinary waiters may go now (if the turn is free)
