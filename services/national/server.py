"""The national server: every prefecture's changes in; provision to agencies and prefectures."""

from __future__ import annotations

import grpc

from juki.v1 import common_pb2, national_service_pb2, provision_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import provision_service_pb2_grpc as provision_grpc
from jukinet import delivery, ledger, replay
from jukinet.authz import current_caller
from jukinet.catalogue import NATIONAL_TABLES, PREFECTURE_TABLES
from jukinet.errors import RefusedError
from jukinet.identifiers import prefecture_of
from jukinet.identity import Identity, IdentityError, Role
from jukinet.node import Node, ServiceSpec
from jukinet.provision import QUERY_FOR_PREFECTURE, Provider, ProvisionServicer


def organ_not_of_caller() -> RefusedError:
    """A forwarded query naming an organ that is not of the forwarding prefecture."""
    return RefusedError(
        grpc.StatusCode.PERMISSION_DENIED,
        "ORGAN_NOT_OF_CALLER",
        "the forwarded query names an organ of another prefecture",
    )


class NationalServicer(national_grpc.NationalServiceServicer):
    """Takes each delivered change once (the last hop); answers prefectures' forwarded queries."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._forwarded = Provider(node, tables=PREFECTURE_TABLES)

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

    def QueryForPrefecture(
        self,
        request: national_service_pb2.QueryForPrefectureRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.QueryForPrefectureResponse:
        prefecture = current_caller()
        header, forwarded = self._node.sealer.open(
            request.envelope,
            national_service_pb2.ForwardedQuery,
            peer=prefecture.spiffe_id,
            method=QUERY_FOR_PREFECTURE,
        )
        with self._node.db.transaction() as conn:
            replay.remember(conn, header)
        try:
            organ = Identity.parse(forwarded.organ)
        except IdentityError:
            raise organ_not_of_caller() from None
        if organ.role is not Role.ORGAN or organ.prefecture != prefecture.prefecture:
            raise organ_not_of_caller()
        answer = self._forwarded.answer(
            forwarded.query, caller=prefecture, recipient=organ, forwarded=True
        )
        envelope = self._node.sealer.seal(
            answer, recipient=prefecture.spiffe_id, method=QUERY_FOR_PREFECTURE
        )
        return national_service_pb2.QueryForPrefectureResponse(envelope=envelope)


def _register(server: grpc.Server, node: Node) -> None:
    national_grpc.add_NationalServiceServicer_to_server(NationalServicer(node), server)
    provision_grpc.add_ProvisionServiceServicer_to_server(
        ProvisionServicer(Provider(node, tables=NATIONAL_TABLES)), server
    )


SPEC = ServiceSpec(
    role=Role.NATIONAL,
    service_names=(
        national_service_pb2.DESCRIPTOR.services_by_name["NationalService"].full_name,
        provision_service_pb2.DESCRIPTOR.services_by_name["ProvisionService"].full_name,
    ),
    register=_register,
)
