"""Gossip between the witnesses of one log: catch a node that shows each witness its own history.

A node with two witnesses (the national server's, trust/witnesses.py) could show one
history to the first and another to the second; each alone sees a log that only grows and
cosigns. So the witnesses exchange, every checkpoint interval, the last checkpoint each cosigned
for the log, and check that one extends the other: at the same size, the same root; else the
smaller must be a prefix of the larger — by the checkpoint this witness itself cosigned at that
size, or by a consistency proof the node gives. Two checkpoints signed by the node that nothing
reconciles are the node's own signed evidence of a fork: the witness cosigns no more of that log
(witness.py, LOG_FORKED), records it in its audit log and counts it (`juki_witness_gossip_total`,
alert LogForked). A peer or node that does not answer leaves the round undecided — never
consistent — and the next round asks again.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jukinet.core import metrics
from jukinet.core.errors import JukiError
from jukinet.transparency import merkle, note
from jukinet.transparency.witness import Witness, cosigners

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """What comparing two witnesses' checkpoints of one log showed."""

    CONSISTENT = "consistent"
    FORKED = "forked"
    UNDECIDED = "undecided"


# The keys to check a peer's checkpoint of `origin` with: the log keys of its node and the
# cosigning keys of the peer — or None if the peer is not a named witness of that log.
KeysOf = Callable[[str], tuple[Sequence[note.NoteKey], Sequence[note.NoteKey]] | None]
# The peer's last cosigned checkpoint of `origin` (None: it has none); JukiError if unreachable.
PeerCheckpoint = Callable[[str], note.SignedNote | None]
# A consistency proof between two sizes of `origin`, from its node; JukiError if it gives none.
NodeProof = Callable[[str, int, int], Sequence[bytes]]
# Told of a fork found: origin (the witness has already stopped cosigning it).
OnFork = Callable[[str], None]


def compare(
    ours: note.Checkpoint,
    theirs: note.Checkpoint,
    root_we_cosigned: bytes | None,
    proof: Callable[[int, int], Sequence[bytes]],
) -> Outcome:
    """Whether `theirs` and `ours` (two checkpoints of one log) are one history.

    `root_we_cosigned`: the root this witness cosigned at `theirs.size`, if it did. `proof`
    asks the log's node for a consistency proof (JukiError if it gives none: undecided)."""
    if ours.size == theirs.size:
        return Outcome.CONSISTENT if ours.root == theirs.root else Outcome.FORKED
    if root_we_cosigned is not None:
        return Outcome.CONSISTENT if root_we_cosigned == theirs.root else Outcome.FORKED
    old, new = (ours, theirs) if ours.size < theirs.size else (theirs, ours)
    try:
        steps = proof(old.size, new.size)
    except JukiError:
        return Outcome.UNDECIDED
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, steps)
    except merkle.ProofError:
        return Outcome.FORKED
    return Outcome.CONSISTENT


def peer_checkpoint(
    origin: str,
    signed: note.SignedNote,
    log_keys: Sequence[note.NoteKey],
    peer_keys: Sequence[note.NoteKey],
) -> note.Checkpoint:
    """The checkpoint of `origin` a peer sent, if its node signed it and the peer cosigned it;
    NoteError otherwise (a peer's word alone proves nothing against the node, and a checkpoint
    of another of its logs is no view of this one)."""
    checkpoint = note.Checkpoint.parse(signed.text)
    if checkpoint.origin != origin:
        raise note.NoteError("the peer sent a checkpoint of another log")
    if not cosigners(signed, log_keys, peer_keys):
        raise note.NoteError("the checkpoint is not signed by its node and cosigned by the peer")
    return checkpoint


@dataclass(frozen=True)
class Gossip:
    """One witness's rounds of comparison with one other witness (its `peer`)."""

    witness: Witness
    keys_of: KeysOf
    peer_checkpoint: PeerCheckpoint
    node_proof: NodeProof
    on_fork: OnFork
    now: Callable[[], dt.datetime]

    def round(self) -> dict[str, Outcome]:
        """Compare every log this witness cosigns that the peer witnesses too."""
        outcomes = {}
        for origin in self.witness.origins():
            keys = self.keys_of(origin)
            if keys is not None:
                outcomes[origin] = self._compare(origin, *keys)
                metrics.WITNESS_GOSSIP.add(1, {"outcome": outcomes[origin].value})
        return outcomes

    def _compare(
        self, origin: str, log_keys: Sequence[note.NoteKey], peer_keys: Sequence[note.NoteKey]
    ) -> Outcome:
        ours = self.witness.last_cosigned(origin)
        if ours is None:
            return Outcome.UNDECIDED  # gone since the round began (cannot happen in one node)
        try:
            sent = self.peer_checkpoint(origin)
            if sent is None:
                raise note.NoteError("the peer holds no checkpoint of this log")
            theirs = peer_checkpoint(origin, sent, log_keys, peer_keys)
        except (JukiError, note.NoteError) as failure:
            log.warning("gossip on %s undecided: %s", origin, failure)
            return Outcome.UNDECIDED
        mine = note.Checkpoint.parse(ours.text)
        outcome = compare(
            mine,
            theirs,
            self.witness.root_at(origin, theirs.size),
            lambda old, new: self.node_proof(origin, old, new),
        )
        if outcome is Outcome.FORKED:
            log.error("the node of %s showed another witness another history", origin)
            self.witness.mark_forked(origin, self.now())
            self.on_fork(origin)
        return outcome
