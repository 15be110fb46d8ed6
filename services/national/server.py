"""The national server (and national fuhyo server): every prefecture's changes in; provision
to agencies and prefectures."""

from __future__ import annotations

import grpc

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import national_service_pb2, provision_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import provision_service_pb2_grpc as provision_grpc
from jukinet.changes import delivery, fuhyo_ledger
from jukinet.core.identity import Role
from jukinet.provision.catalogue import NATIONAL_TABLES, PREFECTURE_TABLES
from jukinet.provision.fuhyo import FUHYO_RECORDS, QUERY_FUHYO_FOR_PREFECTURE
from jukinet.provision.provider import (
    QUERY_FOR_PREFECTURE,
    RESIDENTS,
    Provider,
    ProvisionServicer,
    answer_forwarded,
)
from jukinet.runtime.node import Node, ServiceSpec


class NationalServicer(national_grpc.NationalServiceServicer):
    """Takes each delivered change once (the last hop); answers prefectures' forwarded queries."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._forwarded = Provider(node, tables=PREFECTURE_TABLES, kind=RESIDENTS)

    def DeliverPrefectureChanges(
        self,
        request: national_service_pb2.DeliverPrefectureChangesRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.DeliverPrefectureChangesResponse:
        results = delivery.receive_batch(
            self._node,
            request.envelope,
            method=delivery.DELIVER_PREFECTURE_CHANGES,
            check_origin=delivery.from_callers_prefecture,
            forward=False,
        )
        return national_service_pb2.DeliverPrefectureChangesResponse(results=results)

    def QueryForPrefecture(
        self,
        request: national_service_pb2.QueryForPrefectureRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.QueryForPrefectureResponse:
        envelope = answer_forwarded(
            self._node, self._forwarded, request.envelope, method=QUERY_FOR_PREFECTURE
        )
        return national_service_pb2.QueryForPrefectureResponse(envelope=envelope)


class NationalFuhyoServicer(fuhyo_grpc.NationalFuhyoServiceServicer):
    """The national fuhyo server: every fuhyo server's changes in; their forwarded queries."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._forwarded = Provider(node, tables=PREFECTURE_TABLES, kind=FUHYO_RECORDS)

    def DeliverPrefectureFuhyoChanges(
        self,
        request: fuhyo_pb.DeliverPrefectureFuhyoChangesRequest,
        context: grpc.ServicerContext,
    ) -> fuhyo_pb.DeliverPrefectureFuhyoChangesResponse:
        results = delivery.receive_batch(
            self._node,
            request.envelope,
            method=delivery.DELIVER_PREFECTURE_FUHYO_CHANGES,
            check_origin=delivery.from_callers_prefecture,
            forward=False,
            batch_type=fuhyo_pb.FuhyoChangeBatch,
            take_batch=fuhyo_ledger.take_fuhyo_batch,
        )
        return fuhyo_pb.DeliverPrefectureFuhyoChangesResponse(results=results)

    def QueryFuhyoForPrefecture(
        self, request: fuhyo_pb.QueryFuhyoForPrefectureRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.QueryFuhyoForPrefectureResponse:
        envelope = answer_forwarded(
            self._node, self._forwarded, request.envelope, method=QUERY_FUHYO_FOR_PREFECTURE
        )
        return fuhyo_pb.QueryFuhyoForPrefectureResponse(envelope=envelope)


def _register(server: grpc.Server, node: Node) -> None:
    national_grpc.add_NationalServiceServicer_to_server(NationalServicer(node), server)
    fuhyo_grpc.add_NationalFuhyoServiceServicer_to_server(NationalFuhyoServicer(node), server)
    provision_grpc.add_ProvisionServiceServicer_to_server(
        ProvisionServicer(Provider(node, tables=NATIONAL_TABLES, kind=RESIDENTS)), server
    )


SPEC = ServiceSpec(
    role=Role.NATIONAL,
    service_names=(
        national_service_pb2.DESCRIPTOR.services_by_name["NationalService"].full_name,
        fuhyo_pb.DESCRIPTOR.services_by_name["NationalFuhyoService"].full_name,
        provision_service_pb2.DESCRIPTOR.services_by_name["ProvisionService"].full_name,
    ),
    register=_register,
)
