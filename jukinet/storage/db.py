"""Opening a node's database and keeping it correct under concurrent writers.

SQLite: WAL journal (readers never block the writer), ``synchronous=FULL``
(a committed change survives power loss: the outbox must lose nothing), a
busy timeout, and every transaction opened with ``BEGIN IMMEDIATE`` so two
writers serialise at BEGIN instead of failing at COMMIT with "database is
locked" after both have read. This follows SQLAlchemy's documented pysqlite
recipe (driver-level transactions off, SQLAlchemy emits BEGIN itself).

PostgreSQL: the default READ COMMITTED; conflicting writers are caught by
primary keys and unique constraints, never by read-then-write alone.
"""

from __future__ import annotations

import datetime as dt
import select
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from jukinet.storage.writers import WriterTurn

SQLITE_BUSY_TIMEOUT_MS = 30_000
# (kept, more under load) connections of a node's pool
SQLITE_POOL = (20, 10)
POSTGRESQL_POOL = (10, 5)
# A PostgreSQL connection unused this long is pinged before use (_ping_when_in_doubt).
PING_AFTER_IDLE_S = 1.0
_RETURNED_AT = "juki_returned_at"
# Execution option marking a connection that only reads (Database.reading).
READ_ONLY = "juki_read_only"


@dataclass(frozen=True)
class Database:
    """A node's engine plus the one way to run a unit of work on it.

    writers: on SQLite, the turn every write transaction of this process takes
    first (writers.py says why).
    """

    engine: Engine
    writers: WriterTurn | None = None

    @contextmanager
    def transaction(self, *, urgent: bool = False) -> Iterator[Connection]:
        """One atomic unit of work: committed on success, rolled back on any error.

        urgent: a short transaction others wait for (a deliverer recording what the next
        hop took); on SQLite it writes before the ordinary transactions waiting their turn.
        """
        if self.writers is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.writers.held(urgent=urgent), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only unit of work that takes no write lock.

        SQLite: one snapshot for all its statements, by a deferred BEGIN (WAL readers run
        beside the writer; every other transaction begins IMMEDIATE, see the module
        docstring). PostgreSQL: autocommit, each statement seeing what was committed when it
        began — what READ COMMITTED gives a transaction's statements anyway — without a
        BEGIN and a COMMIT, two round trips of a query's dozen (#18).
        """
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
                return
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        # Straight to the driver: through exec_driver_sql, SQLAlchemy's statement machinery
        # cost more than the BEGIN itself, on every transaction (#18).
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN" if read_only else "BEGIN IMMEDIATE"
        )


def _ping_when_in_doubt(engine: Engine) -> None:
    """Test a pooled PostgreSQL connection before use only when it may be dead.

    A node must ride through a restarted PostgreSQL without failing a call, so a connection
    is tested before a unit of work takes it. SQLAlchemy's ``pool_pre_ping`` tests every
    one, a round trip each time: two of a query's dozen (#18). A server that ends a session
    (a restart, an administrator) says so on the socket before it closes it, so here a
    connection is pinged only when its socket has something to read — which an idle session
    never has otherwise — or when it has lain unused for `PING_AFTER_IDLE_S` (a host that
    rebooted sends nothing). A failed ping invalidates the pool, as pre-ping does.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None:  # new: just connected
            return
        try:
            if time.monotonic() - returned < PING_AFTER_IDLE_S and not _readable(dbapi_connection):
                return
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError() from error


def _readable(dbapi_connection: Any) -> bool:
    """Whether the connection's socket has anything to read (without waiting)."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


def advisory_lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of a lock `name` (a log's appends, a job's leader):
    the CRC-32 of the name, one rule for every lock of a node."""
    return zlib.crc32(name.encode())


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest Alembic revision (or to `revision`, for upgrade tests)."""
    script_location = str(resources.files("jukinet.storage") / "migrations")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored (or given) time as UTC: SQLite hands back naive datetimes, all of them UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def open_database(url: str, *, run_migrations: bool = True) -> Database:
    """Open (and by default migrate) the database at `url`."""
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    # Sized to a node's 16 serving workers plus its background jobs, so connections are kept,
    # not opened and closed under load (#18). PostgreSQL keeps fewer: its max_connections
    # (default 100) is shared by every node and replica on the server.
    pool = SQLITE_POOL if is_sqlite else POSTGRESQL_POOL
    engine = create_engine(
        url,
        pool_size=pool[0],
        max_overflow=pool[1],
        # A database error's text must not carry the row it failed on (names, My Numbers):
        # SQLAlchemy puts the parameters in it unless told not to.
        hide_parameters=True,
    )
    if is_sqlite:
        _configure_sqlite(engine)
    else:
        _ping_when_in_doubt(engine)
    if run_migrations:
        migrate(engine)
    return Database(engine, WriterTurn() if is_sqlite else None)
