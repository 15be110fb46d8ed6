"""What an operator or auditor asks of a node's tamper-evident logs (LogAdminService) and of
its witness (WitnessService)."""

from __future__ import annotations

import json
from pathlib import Path

from juki.v1 import transparency_service_pb2 as pb
from juki.v1 import transparency_service_pb2_grpc as pb_grpc
from jukinet.client.channels import connect
from jukinet.core.network import OPERATOR, NetworkDescription, NodeEntry
from jukinet.transparency import tlog

LOGS = tlog.WIRE_LOGS
LOG_TIMEOUT_S = 120.0


def publish_checkpoint(
    network: NetworkDescription, node: NodeEntry, log: str, operator: str = OPERATOR
) -> pb.PublishCheckpointResponse:
    """PublishCheckpoint of one log at `node`: a checkpoint now, witnessed if it could be."""
    with connect(network, node, network.client(operator)) as channel:
        reply: pb.PublishCheckpointResponse = pb_grpc.LogAdminServiceStub(
            channel
        ).PublishCheckpoint(pb.PublishCheckpointRequest(log=LOGS[log]), timeout=LOG_TIMEOUT_S)
    return reply


def export_log(
    network: NetworkDescription, node: NodeEntry, log: str, operator: str = OPERATOR
) -> tuple[bytes, list[str]]:
    """ExportLog of one log at `node`: its JSON lines and its checkpoints (signed notes)."""
    lines: list[bytes] = []
    checkpoints: list[str] = []
    with connect(network, node, network.client(operator)) as channel:
        for chunk in pb_grpc.LogAdminServiceStub(channel).ExportLog(
            pb.ExportLogRequest(log=LOGS[log]), timeout=LOG_TIMEOUT_S
        ):
            lines.append(chunk.lines)
            checkpoints.extend(chunk.checkpoints)
    return b"".join(lines), checkpoints


def witnessed_checkpoint(
    network: NetworkDescription, witness: NodeEntry, origin: str, operator: str = OPERATOR
) -> str:
    """The last checkpoint `witness` cosigned for the log `origin` ("" if none)."""
    with connect(network, witness, network.client(operator)) as channel:
        reply = pb_grpc.WitnessServiceStub(channel).GetWitnessedCheckpoint(
            pb.GetWitnessedCheckpointRequest(origin=origin), timeout=LOG_TIMEOUT_S
        )
    return str(reply.checkpoint)


def export_to(
    path: Path, network: NetworkDescription, node: NodeEntry, log: str, operator: str = OPERATOR
) -> tuple[int, int]:
    """Export one log to a file for `juki-net audit verify`: its JSON lines, then one
    {"checkpoint": note} line per checkpoint. How many rows and checkpoints it holds."""
    lines, checkpoints = export_log(network, node, log, operator)
    with path.open("wb") as out:
        out.write(lines)
        for checkpoint in checkpoints:
            out.write(json.dumps({"checkpoint": checkpoint}).encode() + b"\n")
    return lines.count(b'{"entry":'), len(checkpoints)


def self_inspection(
    network: NetworkDescription, node: NodeEntry, fiscal_year: int, operator: str = OPERATOR
) -> pb.GetSelfInspectionResponse:
    """GetSelfInspection of one fiscal year at `node` (CSV and table)."""
    with connect(network, node, network.client(operator)) as channel:
        reply: pb.GetSelfInspectionResponse = pb_grpc.LogAdminServiceStub(
            channel
        ).GetSelfInspection(
            pb.GetSelfInspectionRequest(fiscal_year=fiscal_year), timeout=LOG_TIMEOUT_S
        )
    return reply
