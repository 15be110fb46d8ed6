"""Publishing a node's checkpoints: sign one per log and have its witnesses cosign it.

Runs on a schedule (`checkpoint_interval_s`) and on an operator's demand. Each
witness (one; two for the national server) is asked with a consistency proof
from the last checkpoint witnessed here; a witness that last cosigned another
size says which (c2sp.org/tlog-witness), and is asked once more from there.
Every valid cosignature is stored with the checkpoint; it counts as witnessed
once a quorum of the witnesses cosigned it (witness.quorum). A witness that
cannot be reached or refuses leaves the checkpoint short of its quorum — the
next round asks again — and is logged (without any record data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from jukinet.core import metrics
from jukinet.core.clock import Clock
from jukinet.core.errors import JukiError
from jukinet.transparency import note
from jukinet.transparency.checkpoints import MerkleLog, StoredCheckpoint
from jukinet.transparency.witness import quorum

log = logging.getLogger(__name__)

# (checkpoint, size the witness last cosigned, consistency proof) -> its cosignature line.
AskWitness = Callable[[note.SignedNote, int, Sequence[bytes]], str]


class WitnessKnowsOtherSize(Exception):
    """A witness last cosigned another size than it was asked from (CHECKPOINT_SIZE_MISMATCH)."""

    def __init__(self, known_size: int) -> None:
        super().__init__(f"the witness last cosigned size {known_size}")
        self.known_size = known_size


@dataclass(frozen=True)
class Publisher:
    """Signs and witnesses the checkpoints of a node's logs."""

    logs: Mapping[str, MerkleLog]
    signer: Callable[[], note.Signer]
    witnesses: Sequence[AskWitness]
    clock: Clock

    def publish(self, name: str) -> tuple[StoredCheckpoint, bool]:
        """A checkpoint of log `name` now, and whether it is witnessed."""
        made, witnessed = self._publish(name)
        metrics.CHECKPOINTS.add(1, {"log": name, "witnessed": str(witnessed).lower()})
        return made, witnessed

    def _publish(self, name: str) -> tuple[StoredCheckpoint, bool]:
        merkle_log = self.logs[name]
        made = merkle_log.checkpoint(self.signer(), self.clock.now())
        if made.witnessed_at is not None:
            return made, True
        if not self.witnesses:
            return made, False
        last = merkle_log.latest(witnessed=True)
        cosigned, names = made.note, set()  # by key name: one witness asked twice counts once
        for ask in self.witnesses:
            line = self._ask(name, merkle_log, made, 0 if last is None else last.size, ask)
            if line is not None:
                cosigned = cosigned.with_cosignature(line)
                names.add(note.SignedNote.parse(f"{made.note.text}\n{line}").signatures[0][0])
        if not names:
            return made, False
        witnessed = len(names) >= quorum(len(self.witnesses))
        merkle_log.record_cosigned(made.size, cosigned, self.clock.now(), witnessed=witnessed)
        stored = merkle_log.latest(witnessed=witnessed)
        assert stored is not None
        return stored, witnessed

    def _ask(
        self, name: str, merkle_log: MerkleLog, made: StoredCheckpoint, old: int, ask: AskWitness
    ) -> str | None:
        """One witness's cosignature line, asked from `old` (and once more from the size it
        says it last cosigned); None if it refused or could not be reached."""
        for _ in range(2):
            # A log now shorter than what its witness saw was rewritten: the witness is still
            # asked, with no proof, so that it refuses and records the rewrite.
            tree = merkle_log.tree()
            proof = tree.consistency_proof(old, made.size) if 0 < old <= made.size else []
            try:
                return ask(made.note, old, proof)
            except WitnessKnowsOtherSize as other:
                old = other.known_size
            except (JukiError, note.NoteError) as failure:
                log.warning("checkpoint of the %s log not cosigned: %s", name, failure)
                return None
        log.warning("checkpoint of the %s log not cosigned: sizes did not agree", name)
        return None

    def publish_all(self) -> None:
        """A checkpoint of every log (the scheduled round)."""
        for name in self.logs:
            self.publish(name)
