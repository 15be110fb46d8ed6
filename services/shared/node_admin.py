"""NodeAdminService: what an operator may see of any node (counts and states only)."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2

from juki.v1 import node_admin_service_pb2 as pb
from juki.v1 import node_admin_service_pb2_grpc as pb_grpc
from jukinet.changes import counts, outbox
from jukinet.consistency.runs import RunStore
from jukinet.runtime.node import Node


class NodeAdminServicer(pb_grpc.NodeAdminServiceServicer):
    """Serves GetNodeStatus from the node's store and certificate."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def GetNodeStatus(
        self, request: pb.GetNodeStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetNodeStatusResponse:
        node = self._node
        with node.db.reading() as conn:
            states = outbox.count_by_state(conn)
            residents = counts.resident_count(conn)
            applied = counts.applied_count(conn)
            on_fuhyo_file = counts.fuhyo_count(conn)
        certificate = node.credentials.current().certificate
        not_after = certificate.not_valid_after_utc
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(not_after)
        return pb.GetNodeStatusResponse(
            node_name=node.config.name,
            spiffe_id=node.identity.spiffe_id,
            resident_count=residents,
            applied_change_count=applied,
            outbox_pending_count=states[outbox.OutboxState.PENDING],
            outbox_rejected_count=states[outbox.OutboxState.REJECTED],
            outbox_held_count=states[outbox.OutboxState.HELD],
            certificate_not_after=stamp,
            certificate_seconds_left=int((not_after - node.clock.now()).total_seconds()),
            fuhyo_count=on_fuhyo_file,
            certificate_revoked=node.revocation is not None
            and node.revocation.is_listed(certificate),
            trust_material_age_seconds=(
                node.trust_refresher.age_seconds() if node.trust_refresher else -1
            ),
            uptime_seconds=int((node.clock.now() - node.started_at).total_seconds()),
            last_consistency_checks=RunStore(node.db, node.audit).latest(),
        )


def add_node_admin(server: grpc.Server, node: Node) -> None:
    """Every node serves NodeAdminService."""
    pb_grpc.add_NodeAdminServiceServicer_to_server(NodeAdminServicer(node), server)
