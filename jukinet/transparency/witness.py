"""The witness: cosign a checkpoint of a node below only if its log grew by appending.

A node sends its newest checkpoint with a consistency proof from the last
checkpoint this witness cosigned for that log (c2sp.org/tlog-witness,
carried over gRPC). The witness checks the log key's signature, that the
proof starts where it left off, and the proof itself; then it remembers the
new checkpoint and returns its cosignature line. A checkpoint that does not
extend the last one means the log was rewritten: refused (LOG_NOT_EXTENDED)
and never cosigned, so nothing can later be proven against the rewrite. A witness
cosigns only for a node whose CA-signed key document names it as a witness
(trust/witnesses.py, written by the CA: WITNESS_NOT_NAMED otherwise), so a
node cannot open a history at a witness of its choosing; the first checkpoint
of a log is taken only for the caller's own two logs (tlog.origin: its key name
and `provision` or `audit`: a node cannot invent origins), and, where another
named witness has cosigned that log before (the national server's second
witness), only as an extension of that witness's checkpoint (`start`). It
keeps every checkpoint it cosigned, and once gossip with another witness of
the same log (gossip.py) proved that the node showed two histories, it
cosigns nothing more of that log (LOG_FORKED).

A verifier takes a checkpoint only with the cosignatures of a `quorum` of the
log's named witnesses: one of one, two of two (the national server's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from jukinet.core.errors import Reason, RefusedError
from jukinet.storage import Database
from jukinet.storage.schema import cosigned_checkpoints, witnessed_logs
from jukinet.transparency import merkle, note, tlog


def cosigners(
    signed: note.SignedNote, log_keys: Sequence[note.NoteKey], witness_keys: Sequence[note.NoteKey]
) -> set[str]:
    """The witnesses (by key name) whose valid cosignature `signed` carries, made while both
    their key and a log key that signed it were in their windows — so a log key retired by a
    rotation vouches for nothing signed after. NoteError for a forged signature line."""
    signers = [k for k in log_keys if signed.verified_by(k) is not None]
    found = set()
    for key in witness_keys:
        at = signed.verified_by(key)
        if at is not None and key.valid_at(at) and any(k.valid_at(at) for k in signers):
            found.add(key.name)
    return found


def quorum(named: int) -> int:
    """How many of a log's `named` witnesses must have cosigned a checkpoint for a verifier (or
    its publisher) to take it as witnessed: a majority, so that no one witness alone — nor its
    operator holding a second key — vouches for a history the others never saw."""
    return named // 2 + 1


@dataclass(frozen=True)
class Witness:
    """This node as the witness of the logs of the nodes below it."""

    db: Database
    cosigner: note.Signer

    def add_checkpoint(
        self,
        signed: note.SignedNote,
        log_keys: Sequence[note.NoteKey],
        old_size: int,
        proof: Sequence[bytes],
        now: dt.datetime,
        *,
        named: Sequence[str],
        start: Callable[[str], note.Checkpoint | None] | None = None,
    ) -> str:
        """Check `signed` against the last cosigned checkpoint of its log; the cosignature line.

        `log_keys` are the caller's log keys (its key document lists old and
        new after a rotation); one of them, in its window now, must have signed. `named`: the key
        names of the witnesses the caller's key document names; this one must
        be among them. `start(origin)`: for a log this witness has never cosigned, the
        checkpoint another named witness last cosigned (None: none), which the first one shown
        here must then extend.
        """
        if self.cosigner.name not in named:
            raise RefusedError(Reason.WITNESS_NOT_NAMED)
        try:
            checkpoint = note.Checkpoint.parse(signed.text)
            signer = next(
                k for k in log_keys if k.valid_at(now) and signed.verified_by(k) is not None
            )
        except (note.NoteError, StopIteration):
            raise RefusedError(Reason.CHECKPOINT_MALFORMED) from None
        if checkpoint.origin not in {tlog.origin(signer.name, spec) for spec in tlog.LOGS.values()}:
            raise RefusedError(Reason.CHECKPOINT_NOT_OF_CALLER)
        begin = None  # asked before the transaction: `start` may ask another node
        if start is not None and self.last_cosigned(checkpoint.origin) is None:
            begin = start(checkpoint.origin)
        with self.db.transaction() as conn:
            last = conn.execute(
                select(witnessed_logs).where(witnessed_logs.c.origin == checkpoint.origin)
            ).first()
            if last is not None and last.forked_at is not None:
                raise RefusedError(Reason.LOG_FORKED)
            if last is not None:
                known, root = int(last.size), bytes.fromhex(last.root)
            else:
                known, root = (0, b"") if begin is None else (begin.size, begin.root)
            if old_size != known:
                raise RefusedError(Reason.CHECKPOINT_SIZE_MISMATCH, known_size=str(known))
            if known:
                try:
                    merkle.verify_consistency(known, checkpoint.size, root, checkpoint.root, proof)
                except merkle.ProofError:
                    raise RefusedError(Reason.LOG_NOT_EXTENDED) from None
            line = self.cosigner.sign(signed.text, at=now)
            values = {
                "size": checkpoint.size,
                "root": checkpoint.root.hex(),
                "note": str(signed.with_line(line)),  # as cosigned: an auditor can check it
                "cosigned_at": now,
            }
            if last is None:
                conn.execute(insert(witnessed_logs).values(origin=checkpoint.origin, **values))
            else:
                conn.execute(
                    update(witnessed_logs)
                    .where(witnessed_logs.c.origin == checkpoint.origin)
                    .values(**values)
                )
            held = select(cosigned_checkpoints.c.size).where(
                cosigned_checkpoints.c.origin == checkpoint.origin,
                cosigned_checkpoints.c.size == checkpoint.size,
            )
            if conn.execute(held).first() is None:
                conn.execute(
                    insert(cosigned_checkpoints).values(
                        origin=checkpoint.origin,
                        size=checkpoint.size,
                        root=checkpoint.root.hex(),
                        cosigned_at=now,
                    )
                )
        return line

    def last_cosigned(self, origin: str) -> note.SignedNote | None:
        """The last checkpoint cosigned for `origin` (for an auditor to compare an export with)."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(witnessed_logs.c.note).where(witnessed_logs.c.origin == origin)
            ).first()
        return None if row is None else note.SignedNote.parse(row.note)

    def root_at(self, origin: str, size: int) -> bytes | None:
        """The root of the checkpoint of `size` this witness cosigned for `origin`, if it did."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(cosigned_checkpoints.c.root).where(
                    cosigned_checkpoints.c.origin == origin, cosigned_checkpoints.c.size == size
                )
            ).first()
        return None if row is None else bytes.fromhex(row.root)

    def origins(self) -> list[str]:
        """The logs this witness cosigns, and has not found forked."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(witnessed_logs.c.origin).where(witnessed_logs.c.forked_at.is_(None))
            )
            return [r.origin for r in rows]

    def mark_forked(self, origin: str, now: dt.datetime) -> None:
        """Cosign nothing more of `origin`: its node showed another witness another history."""
        with self.db.transaction() as conn:
            conn.execute(
                update(witnessed_logs)
                .where(witnessed_logs.c.origin == origin)
                .values(forked_at=now)
            )
