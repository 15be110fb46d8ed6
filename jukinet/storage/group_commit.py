"""Group commit: items of concurrent callers written in one transaction, each caller waiting for
the commit that holds its own.

Why: what must be durable before an answer leaves (a provision-log entry) costs one fsync per
commit on SQLite with synchronous=FULL and one WAL flush on PostgreSQL; one commit per
concurrent group instead of per call keeps calls fast under load without weakening the
guarantee. The provision log uses it, and so does the benchmark's durable-commit floor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection

from jukinet.storage.db import Database

T = TypeVar("T")


@dataclass
class _Ticket(Generic[T]):
    """One caller's items in a group, and how their commit ended."""

    items: Sequence[T]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Commits items with `write(conn, items)`, concurrent callers' together, in a thread of its
    own (`name`), started on first use."""

    def __init__(
        self, db: Database, write: Callable[[Connection, list[T]], None], name: str
    ) -> None:
        self._db = db
        self._write = write
        self._name = name
        self._pending: list[_Ticket[T]] = []
        self._arrived = threading.Condition()
        self._thread: threading.Thread | None = None

    def commit(self, items: Sequence[T]) -> None:
        """Commit `items` with whatever else is waiting; raise if that commit failed."""
        ticket = _Ticket(items)
        with self._arrived:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._pending.append(ticket)
            self._arrived.notify()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error

    def _run(self) -> None:
        while True:
            with self._arrived:
                while not self._pending:
                    self._arrived.wait()
                group, self._pending = self._pending, []
            error: BaseException | None = None
            try:
                with self._db.transaction() as conn:
                    self._write(conn, [item for t in group for item in t.items])
            except Exception as failure:  # every waiting caller gets it
                error = failure
            for ticket in group:
                ticket.error = error
                ticket.done.set()
