"""The append-only audit log of refusals and operator actions, a Merkle log.

Each entry (time, actor's SPIFFE ID, action, outcome, reason code) is a leaf
of the node's audit Merkle log (jukinet/transparency/tlog.py): the node signs
checkpoints of it and its witness cosigns only checkpoints that extend the
last, so whoever can write the database still cannot rewrite the log
unnoticed (`juki-net audit verify`). Entries hold no personal data: the actor
is a node, organ or operator identity; the action an RPC method or operator
action; the reason a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from jukinet.core.clock import SYSTEM, Clock
from jukinet.storage import Database
from jukinet.transparency import tlog


@dataclass(frozen=True)
class AuditLog:
    """Appends to one node's audit log."""

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
        fields = {"actor": actor, "action": action, "outcome": outcome, "reason": reason}
        tlog.append(conn, tlog.AUDIT, [{"at": self.clock.now(), **fields}])
