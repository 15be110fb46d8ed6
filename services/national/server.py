"""The national server (and national fuhyo server): every prefecture's changes in; provision
to agencies and answers for prefectures asking about other prefectures' people."""

from __future__ import annotations

from typing import Any

import grpc

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import national_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import provision_service_pb2_grpc as provision_grpc
from jukinet.changes import delivery
from jukinet.core import methods as m
from jukinet.core.identity import Role
from jukinet.provision.catalogue import NATIONAL_TABLES, PREFECTURE_TABLES
from jukinet.provision.fuhyo import FUHYO_RECORDS
from jukinet.provision.provider import RESIDENTS, Provider, RecordKind
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.trust.authz import current_caller
from services.shared.access import add_access
from services.shared.consistency import FUHYO_FILE, RESIDENT_FILE, add_consistency_answerer
from services.shared.delivery import hop_receiver
from services.shared.node_admin import add_node_admin
from services.shared.provision import ProvisionServicer, bulk_approvals
from services.shared.provision_admin import add_provision_admin
from services.shared.transparency import add_transparency
from services.shared.trust import add_trust


def _forwarded(node: Node, kind: RecordKind[Any]) -> Provider[Any]:
    """Answers prefecture (fuhyo) servers' forwarded queries: their wide-area tasks."""
    return Provider(db=node.db, log=node.provision_log, tables=PREFECTURE_TABLES, kind=kind)


class NationalServicer(national_grpc.NationalServiceServicer):
    """Takes each delivered change once (the last hop); answers prefectures' forwarded queries."""

    def __init__(self, node: Node) -> None:
        self._receiver = hop_receiver(
            node, method=m.DELIVER_PREFECTURE_CHANGES, origin=delivery.from_prefecture
        )
        self._forwarded = _forwarded(node, RESIDENTS)
        self._endpoint = node.endpoint(m.QUERY_FOR_PREFECTURE)

    def DeliverPrefectureChanges(
        self,
        request: national_service_pb2.DeliverPrefectureChangesRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.DeliverPrefectureChangesResponse:
        results = self._receiver.receive(request.envelope, current_caller())
        return national_service_pb2.DeliverPrefectureChangesResponse(results=results)

    def QueryForPrefecture(
        self,
        request: national_service_pb2.QueryForPrefectureRequest,
        context: grpc.ServicerContext,
    ) -> national_service_pb2.QueryForPrefectureResponse:
        envelope = self._forwarded.answer_forwarded(
            self._endpoint, request.envelope, current_caller()
        )
        return national_service_pb2.QueryForPrefectureResponse(envelope=envelope)


class NationalFuhyoServicer(fuhyo_grpc.NationalFuhyoServiceServicer):
    """The national fuhyo server: every fuhyo server's changes in; their forwarded queries."""

    def __init__(self, node: Node) -> None:
        self._receiver = hop_receiver(
            node,
            method=m.DELIVER_PREFECTURE_FUHYO_CHANGES,
            origin=delivery.from_prefecture,
            kind=delivery.FUHYO_CHANGES,
        )
        self._forwarded = _forwarded(node, FUHYO_RECORDS)
        self._endpoint = node.endpoint(m.QUERY_FUHYO_FOR_PREFECTURE)

    def DeliverPrefectureFuhyoChanges(
        self,
        request: fuhyo_pb.DeliverPrefectureFuhyoChangesRequest,
        context: grpc.ServicerContext,
    ) -> fuhyo_pb.DeliverPrefectureFuhyoChangesResponse:
        results = self._receiver.receive(request.envelope, current_caller())
        return fuhyo_pb.DeliverPrefectureFuhyoChangesResponse(results=results)

    def QueryFuhyoForPrefecture(
        self, request: fuhyo_pb.QueryFuhyoForPrefectureRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.QueryFuhyoForPrefectureResponse:
        envelope = self._forwarded.answer_forwarded(
            self._endpoint, request.envelope, current_caller()
        )
        return fuhyo_pb.QueryFuhyoForPrefectureResponse(envelope=envelope)


def _register(server: grpc.Server, node: Node) -> None:
    add_access(server, node)
    add_node_admin(server, node)
    add_trust(server, node)
    national_grpc.add_NationalServiceServicer_to_server(NationalServicer(node), server)
    fuhyo_grpc.add_NationalFuhyoServiceServicer_to_server(NationalFuhyoServicer(node), server)
    # Prefecture servers compare resident records here, fuhyo servers fuhyo records.
    add_consistency_answerer(server, node, {Role.PREFECTURE: RESIDENT_FILE, Role.FUHYO: FUHYO_FILE})
    agencies = Provider(
        db=node.db,
        log=node.provision_log,
        tables=NATIONAL_TABLES,
        kind=RESIDENTS,
        approvals=bulk_approvals(node),
    )
    provision_grpc.add_ProvisionServiceServicer_to_server(ProvisionServicer(agencies), server)
    add_provision_admin(server, node, add_transparency(server, node))


SPEC = ServiceSpec(
    role=Role.NATIONAL,
    service_names=(
        m.NATIONAL_SERVICE,
        m.NATIONAL_FUHYO_SERVICE,
        m.PROVISION_SERVICE,
        m.PROVISION_ADMIN_SERVICE,
        m.NODE_ADMIN_SERVICE,
        m.LOG_ADMIN_SERVICE,
        m.ACCESS_ADMIN_SERVICE,
        m.WITNESS_SERVICE,
        m.TRUST_SERVICE,
        m.CONSISTENCY_SERVICE,
    ),
    register=_register,
)
