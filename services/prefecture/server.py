"""The prefecture server: changes from its CSs in and on to national; provision to its organs."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from juki.v1 import (
    my_number_link_service_pb2,
    my_number_link_service_pb2_grpc,
    national_service_pb2,
    prefecture_service_pb2,
    provision_service_pb2,
    provision_service_pb2_grpc,
)
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.changes import delivery, outbox
from jukinet.core.identity import Role
from jukinet.provision.admin import ProvisionAdminServicer
from jukinet.provision.catalogue import PREFECTURE_TABLES
from jukinet.provision.link import MyNumberLinkServicer
from jukinet.provision.provider import RESIDENTS, Provider, ProvisionServicer, resident_asker
from jukinet.runtime.node import Node, ServiceSpec


class PrefectureServicer(prefecture_grpc.PrefectureServiceServicer):
    """Takes each delivered change once and queues it for the national server."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def DeliverMunicipalChanges(
        self,
        request: prefecture_service_pb2.DeliverMunicipalChangesRequest,
        context: grpc.ServicerContext,
    ) -> prefecture_service_pb2.DeliverMunicipalChangesResponse:
        results = delivery.receive_batch(
            self._node,
            request.envelope,
            method=delivery.DELIVER_MUNICIPAL_CHANGES,
            check_origin=delivery.from_callers_municipality,
            forward=True,
        )
        return prefecture_service_pb2.DeliverMunicipalChangesResponse(results=results)


def _register(server: grpc.Server, node: Node) -> None:
    prefecture_grpc.add_PrefectureServiceServicer_to_server(PrefectureServicer(node), server)
    provider = Provider(
        node, tables=PREFECTURE_TABLES, kind=RESIDENTS, ask_national=resident_asker(node)
    )
    provision_service_pb2_grpc.add_ProvisionServiceServicer_to_server(
        ProvisionServicer(provider), server
    )
    provision_service_pb2_grpc.add_ProvisionAdminServiceServicer_to_server(
        ProvisionAdminServicer(node), server
    )
    my_number_link_service_pb2_grpc.add_MyNumberLinkServiceServicer_to_server(
        MyNumberLinkServicer(node), server
    )


def _make_sender(node: Node, channel: Callable[[], grpc.Channel]) -> outbox.Sender:
    return delivery.batch_sender(
        node,
        lambda: national_grpc.NationalServiceStub(channel()).DeliverPrefectureChanges,
        national_service_pb2.DeliverPrefectureChangesRequest,
        method=delivery.DELIVER_PREFECTURE_CHANGES,
    )


SPEC = ServiceSpec(
    role=Role.PREFECTURE,
    service_names=(
        prefecture_service_pb2.DESCRIPTOR.services_by_name["PrefectureService"].full_name,
        provision_service_pb2.DESCRIPTOR.services_by_name["ProvisionService"].full_name,
        provision_service_pb2.DESCRIPTOR.services_by_name["ProvisionAdminService"].full_name,
        my_number_link_service_pb2.DESCRIPTOR.services_by_name["MyNumberLinkService"].full_name,
    ),
    register=_register,
    make_sender=_make_sender,
)
