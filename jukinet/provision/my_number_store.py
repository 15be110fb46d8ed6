"""The fuhyo server's temporary My Number store: separate, sealed, short-lived.

A fuhyo server may hold an emigrant's My Number only long enough to deliver
it to the organ that asked, and to send it again if that delivery failed
(seed 003: 提供又は移転後、個人番号は…保有することはない). So the number is
never written to the node's database: it lives in a SQLite file of its own,
sealed at rest to the fuhyo server itself (envelope.Sealer.seal_at_rest),
keyed by the asking organ and its request id, and it is deleted

- when the organ confirms delivery (FuhyoService.ConfirmMyNumberDelivery), or
- when its time-to-live ends (a sweeper thread purges expired entries; an
  expired entry is never handed out even before the sweep),

whichever comes first. SQLite's ``secure_delete`` overwrites deleted rows, and the rollback
journal is kept in memory, so no journal file holds old pages.

Nothing here survives a restart (the store is emptied at start and stop), so commits are not
fsynced (``synchronous=OFF``): durability would buy nothing. One lock serialises the store's
users; SQLite's busy handler, which sleeps and polls, gave the narrow link second-long tails
under concurrent organs (bench/run.py, P3).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes.ledger import Vault
from jukinet.core.clock import SYSTEM, Clock

_metadata = MetaData()
held_my_numbers = Table(
    "held_my_numbers",
    _metadata,
    Column("organ", String(255), primary_key=True),
    Column("request_id", String(36), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# Built once (a statement built per call cost more than running it, #18).
_ONE_REQUEST = (
    held_my_numbers.c.organ == bindparam("organ"),
    held_my_numbers.c.request_id == bindparam("request_id"),
)
_FORGET = delete(held_my_numbers).where(*_ONE_REQUEST)
_HOLD = insert(held_my_numbers)
_HELD = select(held_my_numbers.c.sealed).where(
    *_ONE_REQUEST, held_my_numbers.c.expires_at > bindparam("now")
)


class MyNumberStore:
    """Held My Numbers by (organ, request id), each for at most `ttl_s` seconds."""

    def __init__(
        self,
        path: Path,
        vault: Vault,
        *,
        ttl_s: float,
        clock: Clock = SYSTEM,
    ) -> None:
        self._vault = vault
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._engine = create_engine(f"sqlite:///{path}", hide_parameters=True)

        @event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("secure_delete=ON", "journal_mode=MEMORY", "synchronous=OFF"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        _metadata.create_all(self._engine)
        self.purge(everything=True)  # nothing survives a restart
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="my-number-ttl", daemon=True)

    def _now(self) -> float:
        """The clock's time as seconds since the epoch (what `expires_at` holds)."""
        return self._clock.now().timestamp()

    def start(self) -> None:
        """Start purging expired entries in the background."""
        self._sweeper.start()

    def close(self) -> None:
        """Stop the sweeper, delete everything held, close the file."""
        self._stop.set()
        if self._sweeper.is_alive():
            self._sweeper.join(2.0)
        self.purge(everything=True)
        self._engine.dispose()

    def _sweep(self) -> None:
        interval = max(0.2, min(self._ttl_s / 4, 30.0))
        while not self._stop.wait(interval):
            self.purge()

    def put(self, organ: str, request_id: str, juminhyo_code: str, my_number: str) -> None:
        """Hold `my_number` for a re-send of this organ's request."""
        sealed = self._vault.seal_at_rest(
            fuhyo_pb.HeldMyNumber(juminhyo_code=juminhyo_code, my_number=my_number)
        )
        request = {"organ": organ, "request_id": request_id}
        with self._lock, self._engine.begin() as conn:
            conn.execute(_FORGET, request)
            conn.execute(
                _HOLD, {**request, "sealed": sealed, "expires_at": self._now() + self._ttl_s}
            )

    def get(self, organ: str, request_id: str, juminhyo_code: str) -> str | None:
        """The held My Number of this request if it has not expired and is for this person."""
        with self._lock, self._engine.connect() as conn:
            request = {"organ": organ, "request_id": request_id, "now": self._now()}
            row = conn.execute(_HELD, request).first()
        if row is None:
            return None
        held = self._vault.open_at_rest(row.sealed, fuhyo_pb.HeldMyNumber)
        return held.my_number if held.juminhyo_code == juminhyo_code else None

    def confirm(self, organ: str, request_id: str) -> bool:
        """Delivery confirmed: delete the entry now; True if one was held."""
        with self._lock, self._engine.begin() as conn:
            deleted = conn.execute(_FORGET, {"organ": organ, "request_id": request_id}).rowcount
        return bool(deleted)

    def size(self) -> int:
        """How many My Numbers are held now (for the node's metrics)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(held_my_numbers)).scalar_one())

    def purge(self, *, everything: bool = False) -> int:
        """Delete expired entries (or all); returns how many."""
        statement = delete(held_my_numbers)
        if not everything:
            statement = statement.where(held_my_numbers.c.expires_at <= self._now())
        with self._lock, self._engine.begin() as conn:
            return int(conn.execute(statement).rowcount)
