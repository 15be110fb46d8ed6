"""TrustService: a node's trust material for the nodes below it (served by national and
prefecture servers)."""

from __future__ import annotations

import grpc

from juki.v1 import trust_service_pb2 as pb
from juki.v1 import trust_service_pb2_grpc as pb_grpc
from jukinet.runtime.node import Node
from jukinet.runtime.trust_refresh import TrustFiles


class TrustServicer(pb_grpc.TrustServiceServicer):
    """Hands out what this node trusts now, as the CA signed it (the receiver verifies it)."""

    def __init__(self, files: TrustFiles) -> None:
        self._files = files

    def GetTrustMaterial(
        self, request: pb.GetTrustMaterialRequest, context: grpc.ServicerContext
    ) -> pb.GetTrustMaterialResponse:
        return pb.GetTrustMaterialResponse(material=self._files.read())


def add_trust(server: grpc.Server, node: Node) -> None:
    """Serve this node's trust material to the nodes below it."""
    pb_grpc.add_TrustServiceServicer_to_server(TrustServicer(node.trust_files), server)
