"""The append-only, hash-chained audit log of refusals and operator actions.

Each entry stores the SHA-256 of the previous entry's hash together with its
own fields (time, actor's SPIFFE ID, action, outcome, reason code), so a third
party holding only the table can recompute the chain with `verify()` and find
any row that was altered, removed or inserted out of place. Entries hold no
personal data: the actor is a node, organ or operator identity; the action an
RPC method; the reason a stable code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, text

from jukinet.core.clock import SYSTEM, Clock
from jukinet.storage import Database, as_utc
from jukinet.storage.schema import audit_log

GENESIS = "0" * 64
# Any constant: the key of PostgreSQL's advisory lock that serialises appends.
_PG_LOCK_KEY = 0x4A554B49


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, fields: dict[str, str]) -> str:
    """SHA-256 over the previous hash and this entry's canonical JSON."""
    body = json.dumps(
        {"seq": seq, "at": at.isoformat(), **fields}, sort_keys=True, ensure_ascii=True
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditLog:
    """Appends to and verifies one node's audit log."""

    db: Database
    clock: Clock = SYSTEM

    def append(self, *, actor: str, action: str, outcome: str, reason: str = "") -> None:
        """Add one entry in its own transaction (a refusal's data was rolled back)."""
        with self.db.transaction() as conn:
            self.append_in(conn, actor=actor, action=action, outcome=outcome, reason=reason)

    def append_in(
        self, conn: Connection, *, actor: str, action: str, outcome: str, reason: str = ""
    ) -> None:
        """Add one entry inside the caller's transaction."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        last = conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
        at = self.clock.now()
        fields = {"actor": actor, "action": action, "outcome": outcome, "reason": reason}
        conn.execute(
            insert(audit_log).values(
                seq=seq, at=at, prev_hash=prev, hash=entry_hash(prev, seq, at, fields), **fields
            )
        )

    def verify(self) -> int | None:
        """Recompute the chain; the first bad sequence number, or None if intact."""
        prev, expected_seq = GENESIS, 1
        with self.db.engine.connect() as conn:
            for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
                fields = {k: getattr(row, k) for k in ("actor", "action", "outcome", "reason")}
                good = (
                    row.seq == expected_seq
                    and row.prev_hash == prev
                    and row.hash == entry_hash(prev, row.seq, as_utc(row.at), fields)
                )
                if not good:
                    return int(row.seq)
                prev, expected_seq = row.hash, row.seq + 1
        return None
