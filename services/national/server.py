"""NationalService: every prefecture's changes in; the nationwide copy of the records."""

from __future__ import annotations

import grpc

from juki.v1 import common_pb2, national_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from jukinet import delivery, ledger
from jukinet.authz import current_caller
from jukinet.identifiers import prefecture_of
from jukinet.identity import Role
from jukinet.node import Node, ServiceSpec


class NationalServicer(national_grpc.NationalServiceServicer):
    """Takes each delivered change once; the national server is the last hop."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def DeliverPrefectureChanges(
        self,
        request: national_service_pb2.DeliverPrefectureChangesRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.DeliverPrefectureChangesResponse:
        prefecture = current_caller()

        def from_this_prefecture(change: common_pb2.Change) -> None:
            if prefecture_of(change.municipality_code) != prefecture.code:
                raise ledger.origin_mismatch()

        results = delivery.receive_batch(
            self._node,
            request.envelope,
            method=delivery.DELIVER_PREFECTURE_CHANGES,
            check_origin=from_this_prefecture,
            forward=False,
        )
        return national_service_pb2.DeliverPrefectureChangesResponse(results=results)


def _register(server: grpc.Server, node: Node) -> None:
    national_grpc.add_NationalServiceServicer_to_server(NationalServicer(node), server)


SPEC = ServiceSpec(
    role=Role.NATIONAL,
    service_names=(national_service_pb2.DESCRIPTOR.services_by_name["NationalService"].full_name,),
    register=_register,
)
