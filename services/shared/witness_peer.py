"""At a witness of the national server's logs, its peer: the other witness (peer_witness_hop).

The two compare what each cosigned, every gossip interval (transparency/gossip.py); and a
witness that has never cosigned a log the peer has cosigned starts from the peer's checkpoint
instead of taking the first one it is shown (no trust on first use: a witness named anew cannot
be handed another history). Only the national server has two witnesses, so the log's node is
this witness's next hop, which gives consistency proofs (LogAdminService.GetConsistencyProof).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from juki.v1 import transparency_service_pb2 as pb
from juki.v1 import transparency_service_pb2_grpc as pb_grpc
from jukinet.core.config import NEXT_HOP, PEER_WITNESS_HOP, NextHop
from jukinet.core.errors import Reason, RefusedError, passed_on
from jukinet.runtime.node import HOP_TIMEOUT_S, Node
from jukinet.sealing.keys import log_owner
from jukinet.transparency import gossip, note, tlog
from jukinet.transparency.witness import Witness


@dataclass(frozen=True)
class Peer:
    """This witness's peer, and how to ask it and the log's node."""

    node: Node
    hop: NextHop

    @classmethod
    def of(cls, node: Node) -> Peer | None:
        """The node's peer witness, if it has one configured."""
        hop = node.hop(PEER_WITNESS_HOP)
        return None if hop is None else cls(node, hop)

    def keys_of(self, origin: str) -> tuple[list[note.NoteKey], list[note.NoteKey]] | None:
        """The log keys of `origin`'s node and the peer's cosigning keys, if the node's key
        document names the peer as a witness of its logs too (else None: nothing to compare)."""
        directory, owner = self.node.key_directory, log_owner(origin)
        if self.hop.spiffe_id not in directory.witnesses(owner):
            return None
        peer_keys = directory.note_keys(self.hop.spiffe_id, note.COSIGNATURE_TYPE)
        return directory.note_keys(owner), peer_keys

    def last_cosigned(self, origin: str) -> note.SignedNote | None:
        """What the peer last cosigned for `origin` (None: nothing); RefusedError if it cannot
        be asked, NoteError if its answer is no note."""
        request = pb.GetWitnessedCheckpointRequest(origin=origin)
        reply = self._call(PEER_WITNESS_HOP, lambda s: s.GetWitnessedCheckpoint, request)
        return note.SignedNote.parse(reply.checkpoint) if reply.checkpoint else None

    def start(self, origin: str) -> note.Checkpoint | None:
        """For a log this witness never cosigned: the peer's last checkpoint of it, verified
        (signed by the node, cosigned by the peer), to start from; None if the peer is no
        witness of that log or has cosigned none of it. Fails closed: a peer that cannot be
        asked, or answers what does not verify, refuses the first checkpoint."""
        keys = self.keys_of(origin)
        if keys is None:
            return None
        try:
            sent = self.last_cosigned(origin)
            return None if sent is None else gossip.peer_checkpoint(origin, sent, *keys)
        except note.NoteError:
            raise RefusedError(
                Reason.NEXT_HOP_UNAVAILABLE, "the other witness's checkpoint does not verify"
            ) from None

    def node_proof(self, origin: str, old: int, new: int) -> list[bytes]:
        """A consistency proof between two sizes of `origin`, from its node (the next hop)."""
        log = tlog.WIRE_LOGS.get(origin.rsplit("/", 1)[-1])
        if log is None or self.node.hop(NEXT_HOP) is None:
            raise RefusedError(Reason.NEXT_HOP_UNAVAILABLE)
        request = pb.GetConsistencyProofRequest(log=log, old_size=old, new_size=new)
        reply = self._call(NEXT_HOP, lambda s: s.GetConsistencyProof, request, admin=True)
        return list(reply.consistency_proof)

    def gossip(self, witness: Witness) -> gossip.Gossip:
        """The rounds of comparison of `witness` with this peer; a fork found is recorded in
        the node's audit log."""

        def on_fork(origin: str) -> None:
            self.node.audit.append(
                actor=log_owner(origin),
                action="witness_gossip",
                outcome="forked",
                reason=Reason.LOG_FORKED,
            )

        return gossip.Gossip(
            witness, self.keys_of, self.last_cosigned, self.node_proof, on_fork, self.node.clock.now
        )

    def _call(
        self, hop: str, method: Callable[[Any], Any], request: Any, *, admin: bool = False
    ) -> Any:
        """`method` of WitnessService (LogAdminService with `admin`) on `hop`; its failure as a
        refusal."""
        channel = self.node.channel(hop)
        assert channel is not None
        stub = (
            pb_grpc.LogAdminServiceStub(channel) if admin else pb_grpc.WitnessServiceStub(channel)
        )
        try:
            return method(stub)(request, timeout=HOP_TIMEOUT_S)
        except grpc.RpcError as error:
            raise passed_on(error, unavailable=Reason.NEXT_HOP_UNAVAILABLE) from None
