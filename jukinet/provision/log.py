"""The provision log: every record provided and every query refused, kept 7 years.

A row says when, who called (the TLS identity), for whom (the organ or
agency: the caller itself, or for a query forwarded by a prefecture server,
the organ it names), the clerk, the task, the result and the items given.
It is a Merkle log (jukinet/transparency): every row is a leaf, checkpoints
are signed and witnessed upstream. Search keys and the person provided are
stored only as keyed hashes
(HMAC-SHA256 under a secret of the node), so the log answers "who received
this person's record" (disclosure, statistics) without holding a 住民票コード,
My Number or name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import message as protobuf_message
from sqlalchemy import Connection, RowMapping, select

from jukinet.core import metrics
from jukinet.core.clock import SYSTEM, Clock, fiscal_year
from jukinet.storage import Database
from jukinet.storage.group_commit import GroupCommit
from jukinet.storage.schema import provision_log
from jukinet.transparency import tlog

PROVIDED = "provided"
NO_MATCH = "no_match"
REFUSED = "refused"
# Notes in the reason column of entries that were provided.
ANSWERED_BY_NATIONAL = "ANSWERED_BY_NATIONAL"  # a prefecture server's query the national answered
VIA_LINK = "VIA_LINK"  # a My Number a fuhyo server obtained through the narrow link
RESENT = "RESENT"  # …and sent again from its temporary store
RETENTION_YEARS = 7


def load_or_create_secret(path: Path) -> bytes:
    """The node's 32-byte hashing secret, created (0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError("the provision log secret is too short")
    return secret


@dataclass(frozen=True)
class Entry:
    """One provision-log row (before hashing is applied by the caller)."""

    caller: str
    recipient: str
    operator_id: str
    task_id: str
    request_id: str
    key_kind: str
    key_hash: str
    outcome: str
    subject_hash: str = ""
    reason: str = ""
    items_given: str = ""


class ProvisionLog:
    """Writes and reads one node's provision log."""

    def __init__(self, db: Database, secret: bytes, *, clock: Clock = SYSTEM) -> None:
        self._db = db
        self._secret = secret
        self.clock = clock
        self._group: GroupCommit[Entry] = GroupCommit(
            db, lambda conn, entries: ProvisionLog.write(conn, entries, clock.now())
        )

    def keyed_hash(self, kind: str, value: str | bytes | protobuf_message.Message) -> str:
        """HMAC-SHA256 of a key or identifier (a message is hashed in deterministic form)."""
        if isinstance(value, protobuf_message.Message):
            value = value.SerializeToString(deterministic=True)
        data = value.encode() if isinstance(value, str) else value
        return hmac.new(self._secret, kind.encode() + b"\0" + data, hashlib.sha256).hexdigest()

    def subject(self, juminhyo_code: str) -> str:
        """The keyed hash a person is logged under."""
        return self.keyed_hash("subject", juminhyo_code)

    @staticmethod
    def write(conn: Connection, entries: Sequence[Entry], now: dt.datetime) -> None:
        """Append entries inside the caller's transaction (with the provision itself)."""
        rows = [{"at": now, "fiscal_year": fiscal_year(now), **vars(e)} for e in entries]
        tlog.append(conn, tlog.PROVISION, rows)
        for e in entries:
            metrics.PROVISIONS.add(1, {"task": e.task_id, "outcome": e.outcome})

    def commit(self, entries: Sequence[Entry]) -> None:
        """Append entries durably; returns once they are committed (group commit).

        Concurrent callers share one transaction (one fsync): entries that
        arrive while a group is being committed form the next group. An error
        committing a group is raised to every caller in it.
        """
        self._group.commit(entries)

    def write_refusal(self, entry: Entry) -> None:
        """Append a refusal (in its own transaction: the query's own was rolled back)."""
        self.commit([entry])

    def provisions_of(self, conn: Connection, juminhyo_code: str) -> list[RowMapping]:
        """Every provision of this person, as stored (with its leaf index), oldest first."""
        rows = conn.execute(
            select(provision_log)
            .where(provision_log.c.subject_hash == self.subject(juminhyo_code))
            .where(provision_log.c.outcome == PROVIDED)
            .order_by(provision_log.c.leaf_index)
        )
        return list(rows.mappings())
