"""The prefecture server: changes from its CSs in and on to national; provision to its organs;
the prefecture side of the narrow link."""

from __future__ import annotations

import grpc
from cryptography import x509

from juki.v1 import my_number_link_service_pb2_grpc as link_grpc
from juki.v1 import national_service_pb2, prefecture_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from juki.v1 import provision_service_pb2 as provision_pb
from juki.v1 import provision_service_pb2_grpc as provision_grpc
from jukinet.changes import delivery, outbox
from jukinet.core import methods as m
from jukinet.core.config import NEXT_HOP
from jukinet.core.errors import Reason
from jukinet.core.identity import Role
from jukinet.provision.catalogue import PREFECTURE_TABLES
from jukinet.provision.link import LinkAnswerer
from jukinet.provision.provider import RESIDENTS, Provider
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.trust.authz import current_caller
from services.prefecture.link import MyNumberLinkServicer
from services.shared.access import add_access
from services.shared.consistency import (
    RESIDENT_FILE,
    add_consistency_answerer,
    add_consistency_runner,
)
from services.shared.delivery import hop_receiver, hop_sender
from services.shared.node_admin import add_node_admin
from services.shared.notices import add_notices
from services.shared.provision import ProvisionServicer, bulk_approvals
from services.shared.provision_admin import add_provision_admin
from services.shared.transparency import add_transparency
from services.shared.trust import add_trust


class PrefectureServicer(prefecture_grpc.PrefectureServiceServicer):
    """Takes each delivered change once and queues it for the national server."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._receiver = hop_receiver(
            node, method=m.DELIVER_MUNICIPAL_CHANGES, origin=delivery.from_municipality
        )

    def DeliverMunicipalChanges(
        self,
        request: prefecture_service_pb2.DeliverMunicipalChangesRequest,
        context: grpc.ServicerContext,
    ) -> prefecture_service_pb2.DeliverMunicipalChangesResponse:
        results = self._receiver.receive(request.envelope, current_caller())
        self._node.changes_queued()
        return prefecture_service_pb2.DeliverMunicipalChangesResponse(results=results)


def _register(server: grpc.Server, node: Node) -> None:
    add_access(server, node)
    add_node_admin(server, node)
    add_trust(server, node)
    prefecture_grpc.add_PrefectureServiceServicer_to_server(PrefectureServicer(node), server)
    add_notices(server, node)
    # Its CSs compare their resident records here; it compares them with national.
    add_consistency_answerer(server, node, {Role.CS: RESIDENT_FILE})
    add_consistency_runner(server, node, {RESIDENT_FILE: NEXT_HOP})
    national = node.sealed_stub(
        NEXT_HOP,
        method=m.QUERY_FOR_PREFECTURE,
        rpc=lambda channel: national_grpc.NationalServiceStub(channel).QueryForPrefecture,
        request_type=national_service_pb2.QueryForPrefectureRequest,
        unavailable=Reason.NATIONAL_UNAVAILABLE,
    )
    approvals = bulk_approvals(node)
    provider = Provider(
        db=node.db,
        log=node.provision_log,
        tables=PREFECTURE_TABLES,
        kind=RESIDENTS,
        ask_national=(
            None
            if national is None
            else lambda forwarded: national.ask(forwarded, provision_pb.QueryResidentsResponse)
        ),
        approvals=approvals,
    )
    provision_grpc.add_ProvisionServiceServicer_to_server(ProvisionServicer(provider), server)
    add_provision_admin(server, node, add_transparency(server, node))
    answerer = LinkAnswerer(
        db=node.db,
        log=node.provision_log,
        endpoint=node.endpoint(m.GET_MY_NUMBER_FOR_EMIGRANT),
        node=node.identity,
        trust_anchors=lambda: x509.load_pem_x509_certificates(node.credentials.current().bundle),
        revocation=node.revocation,
        per_hour=node.config.link_per_hour,
    )
    link_grpc.add_MyNumberLinkServiceServicer_to_server(MyNumberLinkServicer(answerer), server)


def _national_sender(node: Node) -> outbox.Hop:
    return hop_sender(
        node,
        NEXT_HOP,
        method=m.DELIVER_PREFECTURE_CHANGES,
        rpc=lambda channel: national_grpc.NationalServiceStub(channel).DeliverPrefectureChanges,
        request_type=national_service_pb2.DeliverPrefectureChangesRequest,
    )


SPEC = ServiceSpec(
    role=Role.PREFECTURE,
    service_names=(
        m.PREFECTURE_SERVICE,
        m.CHANGE_NOTICE_SERVICE,
        m.PROVISION_SERVICE,
        m.PROVISION_ADMIN_SERVICE,
        m.MY_NUMBER_LINK_SERVICE,
        m.NODE_ADMIN_SERVICE,
        m.LOG_ADMIN_SERVICE,
        m.ACCESS_ADMIN_SERVICE,
        m.WITNESS_SERVICE,
        m.TRUST_SERVICE,
        m.CONSISTENCY_SERVICE,
        m.CONSISTENCY_ADMIN_SERVICE,
    ),
    register=_register,
    senders={NEXT_HOP: _national_sender},
)
