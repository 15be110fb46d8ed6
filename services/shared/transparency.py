"""Tamper-evident logs' servicers: WitnessService at the tier above, LogAdminService at every
node, the hourly round that signs each log's checkpoint and has it witnessed upstream, and —
at a witness with a peer — the round that compares what the two cosigned (gossip)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import grpc

from juki.v1 import transparency_service_pb2 as pb
from juki.v1 import transparency_service_pb2_grpc as pb_grpc
from jukinet.core.config import NEXT_HOP, WITNESS_HOPS
from jukinet.core.errors import Reason, RefusedError, error_info, invalid_field, passed_on
from jukinet.provision import inspection
from jukinet.provision.statistics import check_fiscal_year
from jukinet.runtime.jobs import Periodic
from jukinet.runtime.node import HOP_TIMEOUT_S, Node
from jukinet.sealing.keys import log_key_name
from jukinet.transparency import note, tlog
from jukinet.transparency.checkpoints import MerkleLog
from jukinet.transparency.publisher import AskWitness, Publisher, WitnessKnowsOtherSize
from jukinet.transparency.witness import Witness
from jukinet.trust.authz import current_caller
from jukinet.trust.witnesses import WITNESS_ROLES
from services.shared.witness_peer import Peer

LOG_NAMES = {wire: name for name, wire in tlog.WIRE_LOGS.items()}
EXPORT_CHUNK_LINES = 2000


class WitnessServicer(pb_grpc.WitnessServiceServicer):
    """Cosigns the checkpoints of the nodes below (transparency/witness.py)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        cosigner = node.keyring.log_signer(node.identity.spiffe_id, note.COSIGNATURE_TYPE)
        self.witness = Witness(node.db, cosigner)
        self.peer = Peer.of(node)

    def AddCheckpoint(
        self, request: pb.AddCheckpointRequest, context: grpc.ServicerContext
    ) -> pb.AddCheckpointResponse:
        try:
            signed = note.SignedNote.parse(request.checkpoint)
        except note.NoteError:
            raise RefusedError(Reason.CHECKPOINT_MALFORMED) from None
        caller = current_caller().spiffe_id
        directory = self._node.key_directory
        line = self.witness.add_checkpoint(
            signed,
            directory.note_keys(caller),
            request.old_size,
            list(request.consistency_proof),
            self._node.clock.now(),
            named=[log_key_name(w) for w in directory.witnesses(caller)],
            start=None if self.peer is None else self.peer.start,
        )
        return pb.AddCheckpointResponse(cosignature=line)

    def GetWitnessedCheckpoint(
        self, request: pb.GetWitnessedCheckpointRequest, context: grpc.ServicerContext
    ) -> pb.GetWitnessedCheckpointResponse:
        found = self.witness.last_cosigned(request.origin)
        return pb.GetWitnessedCheckpointResponse(checkpoint="" if found is None else str(found))


class LogAdminServicer(pb_grpc.LogAdminServiceServicer):
    """Operators publish checkpoints and export a log for an offline check."""

    def __init__(self, node: Node, publisher: Publisher) -> None:
        self._node = node
        self._publisher = publisher

    def PublishCheckpoint(
        self, request: pb.PublishCheckpointRequest, context: grpc.ServicerContext
    ) -> pb.PublishCheckpointResponse:
        made, witnessed = self._publisher.publish(_log_name(request.log))
        return pb.PublishCheckpointResponse(checkpoint=str(made.note), witnessed=witnessed)

    def ExportLog(
        self, request: pb.ExportLogRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ExportLogResponse]:
        merkle_log = self._publisher.logs[_log_name(request.log)]
        lines: list[str] = []
        with self._node.db.reading() as conn:
            for record in tlog.export(conn, merkle_log.spec, merkle_log.origin):
                lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                if len(lines) == EXPORT_CHUNK_LINES:
                    yield pb.ExportLogResponse(lines=_joined(lines))
                    lines = []
        checkpoints = [str(c) for c in merkle_log.all_checkpoints()]
        yield pb.ExportLogResponse(lines=_joined(lines), checkpoints=checkpoints)

    def GetSelfInspection(
        self, request: pb.GetSelfInspectionRequest, context: grpc.ServicerContext
    ) -> pb.GetSelfInspectionResponse:
        check_fiscal_year(request.fiscal_year)
        with self._node.db.reading() as conn:
            report = inspection.inspect(conn, request.fiscal_year)
        return pb.GetSelfInspectionResponse(
            csv=inspection.as_csv(report), table=inspection.as_table(report)
        )

    def GetConsistencyProof(
        self, request: pb.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> pb.GetConsistencyProofResponse:
        tree = self._publisher.logs[_log_name(request.log)].tree()
        if not 0 < request.old_size <= request.new_size <= tree.size:
            raise invalid_field("new_size", "sizes must satisfy 0 < old_size <= new_size <= log")
        proof = tree.consistency_proof(request.old_size, request.new_size)
        return pb.GetConsistencyProofResponse(consistency_proof=proof)


def _joined(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def _log_name(log: pb.LogName.ValueType) -> str:
    if log not in LOG_NAMES:
        raise invalid_field("log", "must be LOG_NAME_PROVISION or LOG_NAME_AUDIT")
    return LOG_NAMES[log]


def _witnesses_upstream(node: Node) -> list[AskWitness]:
    """The calls to this node's witnesses: its witness_hop and second_witness_hop if it has them
    (the national server), else its next hop. What one answers is kept only if it is a valid
    cosignature by that witness's published key (COSIGNATURE_INVALID otherwise)."""
    named = [h for h in WITNESS_HOPS if node.hop(h) is not None]
    return [_ask_witness(node, hop) for hop in named or [NEXT_HOP] if node.hop(hop) is not None]


def _ask_witness(node: Node, hop: str) -> AskWitness:
    witness = node.hop(hop)
    assert witness is not None

    def ask(signed: note.SignedNote, old_size: int, proof: Sequence[bytes]) -> str:
        channel = node.channel(hop)
        assert channel is not None
        request = pb.AddCheckpointRequest(
            checkpoint=str(signed), old_size=old_size, consistency_proof=list(proof)
        )
        try:
            reply = pb_grpc.WitnessServiceStub(channel).AddCheckpoint(
                request, timeout=HOP_TIMEOUT_S
            )
        except grpc.RpcError as error:
            known = _known_size(error)
            if known is not None:
                raise WitnessKnowsOtherSize(known) from None
            raise passed_on(error, unavailable=Reason.NEXT_HOP_UNAVAILABLE) from None
        line = str(reply.cosignature)
        witness_keys = node.key_directory.note_keys(witness.spiffe_id, note.COSIGNATURE_TYPE)
        if not note.cosigned_by(signed, line, witness_keys):
            raise RefusedError(Reason.COSIGNATURE_INVALID)
        return line

    return ask


def _known_size(error: grpc.RpcError) -> int | None:
    """The size a witness says it last cosigned (CHECKPOINT_SIZE_MISMATCH's `known_size`), if
    it said one that is a tree size."""
    info = error_info(error)
    if info is None or info.reason != Reason.CHECKPOINT_SIZE_MISMATCH:
        return None
    try:
        return note.tree_size(info.metadata.get("known_size", ""))
    except note.NoteError:
        return None


def add_transparency(server: grpc.Server, node: Node) -> Publisher:
    """Serve LogAdminService (and WitnessService on the roles that witness, witnesses.WITNESS_ROLES:
    the one home of who may be a witness), and publish on a schedule."""
    name = node.identity.spiffe_id
    key_name = log_key_name(name)
    logs = {
        spec.name: MerkleLog(node.db, spec, tlog.origin(key_name, spec))
        for spec in (tlog.PROVISION, tlog.AUDIT)
    }
    publisher = Publisher(
        logs, lambda: node.keyring.log_signer(name), _witnesses_upstream(node), node.clock
    )
    pb_grpc.add_LogAdminServiceServicer_to_server(LogAdminServicer(node, publisher), server)
    if node.identity.role in WITNESS_ROLES:
        servicer = WitnessServicer(node)
        pb_grpc.add_WitnessServiceServicer_to_server(servicer, server)
        if servicer.peer is not None and node.config.gossip_interval_s > 0:
            gossip = servicer.peer.gossip(servicer.witness)
            leader = node.leadership("gossip").held
            node.add_job(Periodic("gossip", gossip.round, node.config.gossip_interval_s, leader))
    if node.config.checkpoint_interval_s > 0:
        node.add_job(
            Periodic(
                "checkpoints",
                publisher.publish_all,
                node.config.checkpoint_interval_s,
                leader=node.leadership("checkpoints").held,
            )
        )
    return publisher
