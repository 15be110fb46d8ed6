"""Which replica of a node does a job that must run once at a time, and the one-process rule of
SQLite.

Several `serve` processes may serve one node identity from one PostgreSQL
database (replicas). Most of what they do is safe side by side — the
database serialises writers and remembers every change and envelope taken —
but some work must have one doer at a time: delivering a hop's outbox in
order, the nightly consistency check, publishing checkpoints. Each such job
is led by whichever replica holds a PostgreSQL session advisory lock named
after it, on a connection of its own: if that replica dies, its connection
closes, the lock is released and another replica takes the job over on its
next look. A SQLite database is one process's: a second process on it is
refused at start (`claim_sqlite`).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from jukinet.core.errors import JukiError
from jukinet.storage.db import Database, advisory_lock_key


class SecondProcessError(JukiError):
    """Another process already serves this SQLite database."""


class Leadership:
    """Whether this process leads the job `name` now (always, on SQLite)."""

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._key = advisory_lock_key(f"juki-net job {name}")
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._sqlite = db.engine.dialect.name == "sqlite"

    def held(self) -> bool:
        """True if this process leads the job: it holds the lock, or just took it."""
        if self._sqlite:
            return True
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    return True
                except Exception:  # the connection (and with it the lock) is gone
                    self._drop()
            conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                taken = conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                ).scalar()
            except Exception:
                conn.close()
                return False
            if taken:
                self._conn = conn
                return True
            conn.close()
            return False

    def release(self) -> None:
        """Give the job up (the node stops)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail: it is gone
                self._conn.close()
            self._conn = None


def claim_sqlite(url: str) -> IO[bytes] | None:
    """For a SQLite database, an exclusive lock on a file beside it, held while the returned
    file is open; SecondProcessError if another process holds it. None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.with_name(f"{path.name}.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SecondProcessError(
            f"{path}: another process serves this node's SQLite database (SQLite is one "
            "process's; run replicas on PostgreSQL)"
        ) from None
    return handle
