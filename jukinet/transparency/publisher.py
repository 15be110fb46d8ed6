"""Publishing a node's checkpoints: sign one per log and have the tier above witness it.

Runs on a schedule (`checkpoint_interval_s`) and on an operator's demand. The
witness is asked with a consistency proof from the last checkpoint it
cosigned (0: its first); its cosignature is stored with the checkpoint. A
witness that cannot be reached or refuses leaves the checkpoint unwitnessed —
the next round tries again — and is logged (without any record data).
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

log = logging.getLogger(__name__)

# (checkpoint, size the witness last cosigned, consistency proof) -> its cosignature line.
AskWitness = Callable[[note.SignedNote, int, Sequence[bytes]], str]


@dataclass(frozen=True)
class Publisher:
    """Signs and witnesses the checkpoints of a node's logs."""

    logs: Mapping[str, MerkleLog]
    signer: Callable[[], note.Signer]
    ask_witness: AskWitness | None
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
        if self.ask_witness is None:
            return made, False
        last = merkle_log.latest(witnessed=True)
        old = 0 if last is None else last.size
        # A log now shorter than what its witness saw was rewritten: the witness is still asked,
        # with no proof, so that it refuses and records the rewrite.
        proof = merkle_log.tree().consistency_proof(old, made.size) if 0 < old <= made.size else []
        try:
            line = self.ask_witness(made.note, old, proof)
            cosigned = made.note.with_line(line)
        except (JukiError, note.NoteError) as failure:
            log.warning("checkpoint of the %s log not witnessed: %s", name, failure)
            return made, False
        merkle_log.record_cosigned(made.size, cosigned, self.clock.now())
        witnessed = merkle_log.latest(witnessed=True)
        assert witnessed is not None
        return witnessed, True

    def publish_all(self) -> None:
        """A checkpoint of every log (the scheduled round)."""
        for name in self.logs:
            self.publish(name)
