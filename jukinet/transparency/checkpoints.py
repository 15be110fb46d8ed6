"""A node's view of one of its Merkle logs: the tree, its signed checkpoints, their witnessing.

The tree is kept in memory and brought up to date from `log_leaves` before
each use (only the leaves appended since are read), so a checkpoint or a
proof costs O(log n) hashes after the first. Checkpoints are signed with the
node's log key and stored; the cosignatures a witness adds are stored with
them, and only a witnessed checkpoint is what a proof in a disclosure points to.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from jukinet.storage import Database, as_utc
from jukinet.storage.schema import log_checkpoints
from jukinet.transparency import merkle, note, tlog

log = logging.getLogger(__name__)


class LogBrokenError(Exception):
    """The stored leaves are not contiguous: the log was tampered with in the database."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint of this node's log, and when a witness cosigned it (if yet)."""

    size: int
    root: bytes
    note: note.SignedNote
    witnessed_at: dt.datetime | None


class MerkleLog:
    """One log of this node: its tree and checkpoints."""

    def __init__(self, db: Database, spec: tlog.LogSpec, origin: str) -> None:
        self.db = db
        self.spec = spec
        self.origin = origin
        self._tree = merkle.Tree()
        self._lock = threading.Lock()

    def tree(self) -> merkle.Tree:
        """The tree of every leaf committed so far.

        The tree is the database's, not this process's memory of it: if the
        last leaf remembered is no longer stored as it was (the log was
        rewritten under the node), the tree is rebuilt from what is stored —
        and the next checkpoint shows its witness the rewrite.
        """
        with self._lock, self.db.reading() as conn:
            size = self._tree.size
            if size and tlog.leaf_hash_at(conn, self.spec, size - 1) != self._tree.leaf(size - 1):
                log.warning("the stored %s log changed under the node", self.spec.name)
                self._tree = merkle.Tree()
            for index, hashed in tlog.leaf_hashes(conn, self.spec, self._tree.size):
                if index != self._tree.size:
                    raise LogBrokenError(f"the {self.spec.name} log has no leaf {self._tree.size}")
                self._tree.append(hashed)
            return self._tree

    def checkpoint(self, signer: note.Signer, now: dt.datetime) -> StoredCheckpoint:
        """Sign and keep a checkpoint of the log as it is (the latest, if nothing was added)."""
        tree = self.tree()
        size = tree.size
        latest = self.latest()
        if latest is not None and latest.size == size:
            return latest
        root = tree.root(size)
        signed = note.sign_note(note.Checkpoint(self.origin, size, root).text(), signer)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    insert(log_checkpoints).values(
                        log=self.spec.name,
                        size=size,
                        root=root.hex(),
                        note=str(signed),
                        made_at=now,
                    )
                )
        except IntegrityError:  # another replica of this node signed the same size just now
            stored = self.latest()
            if stored is None or stored.size != size:
                raise
            return stored
        return StoredCheckpoint(size, root, signed, None)

    def record_cosigned(
        self, size: int, cosigned: note.SignedNote, now: dt.datetime, *, witnessed: bool = True
    ) -> None:
        """Keep the witnesses' cosignatures of the checkpoint of `size`; `witnessed`: a quorum
        of them cosigned, so proofs may now point to it."""
        with self.db.transaction() as conn:
            conn.execute(
                update(log_checkpoints)
                .where(log_checkpoints.c.log == self.spec.name, log_checkpoints.c.size == size)
                .values(note=str(cosigned), witnessed_at=now if witnessed else None)
            )

    def latest(self, *, witnessed: bool = False) -> StoredCheckpoint | None:
        """The newest checkpoint (the newest a witness cosigned, with `witnessed`)."""
        query = select(log_checkpoints).where(log_checkpoints.c.log == self.spec.name)
        if witnessed:
            query = query.where(log_checkpoints.c.witnessed_at.is_not(None))
        with self.db.reading() as conn:
            row = conn.execute(query.order_by(log_checkpoints.c.size.desc()).limit(1)).first()
        if row is None:
            return None
        return StoredCheckpoint(
            int(row.size),
            bytes.fromhex(row.root),
            note.SignedNote.parse(row.note),
            None if row.witnessed_at is None else as_utc(row.witnessed_at),
        )

    def all_checkpoints(self) -> list[note.SignedNote]:
        """Every checkpoint kept, oldest first (for an export)."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(log_checkpoints.c.note)
                .where(log_checkpoints.c.log == self.spec.name)
                .order_by(log_checkpoints.c.size)
            )
            return [note.SignedNote.parse(r.note) for r in rows]
