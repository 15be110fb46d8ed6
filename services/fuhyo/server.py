"""The fuhyo prefecture server: fuhyo changes from its CSs in and on to the national fuhyo
server; fuhyo records to the prefecture's organs, with an emigrant's My Number through the
narrow link where the task allows it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import my_number_link_service_pb2_grpc as link_grpc
from juki.v1 import provision_service_pb2 as provision_pb
from jukinet.changes import delivery, outbox
from jukinet.core import methods as m
from jukinet.core import metrics
from jukinet.core.config import LINK_HOP, NEXT_HOP
from jukinet.core.errors import Reason
from jukinet.core.identity import Identity, Role, peer_certificate_der
from jukinet.provision import disclosure
from jukinet.provision.catalogue import PREFECTURE_TABLES
from jukinet.provision.fuhyo import FUHYO_RECORDS, EmigrantMyNumbers, OrganProof
from jukinet.provision.link import ask_prefecture
from jukinet.provision.my_number_store import MyNumberStore
from jukinet.provision.provider import Provider
from jukinet.records import validation
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.trust.authz import current_caller
from services.shared.access import add_access
from services.shared.consistency import (
    FUHYO_FILE,
    add_consistency_answerer,
    add_consistency_runner,
)
from services.shared.delivery import hop_receiver, hop_sender
from services.shared.node_admin import add_node_admin
from services.shared.notices import add_notices
from services.shared.provision import bulk_approvals
from services.shared.provision_admin import add_provision_admin
from services.shared.transparency import add_transparency


class FuhyoServicer(fuhyo_grpc.FuhyoServiceServicer):
    """FuhyoService at a fuhyo prefecture server."""

    def __init__(self, node: Node, store: MyNumberStore) -> None:
        self._node = node
        self._receiver = hop_receiver(
            node,
            method=m.DELIVER_MUNICIPAL_FUHYO_CHANGES,
            origin=delivery.from_municipality,
            kind=delivery.FUHYO_CHANGES,
        )
        national = node.sealed_stub(
            NEXT_HOP,
            method=m.QUERY_FUHYO_FOR_PREFECTURE,
            rpc=lambda channel: (
                fuhyo_grpc.NationalFuhyoServiceStub(channel).QueryFuhyoForPrefecture
            ),
            request_type=fuhyo_pb.QueryFuhyoForPrefectureRequest,
            unavailable=Reason.NATIONAL_UNAVAILABLE,
        )
        self._provider = Provider(
            db=node.db,
            log=node.provision_log,
            tables=PREFECTURE_TABLES,
            kind=FUHYO_RECORDS,
            approvals=bulk_approvals(node),
            ask_national=(
                None
                if national is None
                else lambda forwarded: national.ask(forwarded, fuhyo_pb.QueryFuhyoRecordsResponse)
            ),
        )
        link = node.sealed_stub(
            LINK_HOP,
            method=m.GET_MY_NUMBER_FOR_EMIGRANT,
            rpc=lambda channel: link_grpc.MyNumberLinkServiceStub(channel).GetMyNumberForEmigrant,
            request_type=link_pb.GetMyNumberForEmigrantRequest,
            unavailable=Reason.LINK_UNAVAILABLE,
        )
        self._my_numbers = EmigrantMyNumbers(
            store=store,
            log=node.provision_log,
            audit=node.audit,
            ask=lambda request: ask_prefecture(link, request),
        )

    def DeliverMunicipalFuhyoChanges(
        self,
        request: fuhyo_pb.DeliverMunicipalFuhyoChangesRequest,
        context: grpc.ServicerContext,
    ) -> fuhyo_pb.DeliverMunicipalFuhyoChangesResponse:
        results = self._receiver.receive(request.envelope, current_caller())
        self._node.changes_queued()
        return fuhyo_pb.DeliverMunicipalFuhyoChangesResponse(results=results)

    def QueryFuhyoRecords(
        self, request: fuhyo_pb.QueryFuhyoRecordsRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.QueryFuhyoRecordsResponse:
        proof = OrganProof(request.signed, peer_certificate_der(context))
        return self._answer(request.query, current_caller(), proof)

    def _answer(
        self, query: provision_pb.ResidentQuery, organ: Identity, proof: OrganProof
    ) -> fuhyo_pb.QueryFuhyoRecordsResponse:
        provision = self._provider.provide(query, caller=organ, recipient=organ, log_later=True)
        link_entries = self._my_numbers.add(provision, query, organ, proof)
        # One durable commit for the query and the link's use, before the answer leaves.
        if entries := [*provision.unlogged, *link_entries]:
            self._node.provision_log.commit(entries)
        return provision.response

    def BulkQueryFuhyoRecords(
        self,
        request_iterator: Iterator[fuhyo_pb.BulkQueryFuhyoRecordsRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[fuhyo_pb.BulkQueryFuhyoRecordsResponse]:
        organ = current_caller()
        unsigned = OrganProof(fuhyo_pb.SignedOrganQuery(), peer_certificate_der(context))

        def respond(
            request_id: str, records: Sequence[fuhyo_pb.ProvidedFuhyoRecord], refusal: str
        ) -> fuhyo_pb.BulkQueryFuhyoRecordsResponse:
            return fuhyo_pb.BulkQueryFuhyoRecordsResponse(
                request_id=request_id, records=records, refusal_reason=refusal
            )

        return self._provider.bulk(
            request_iterator,
            organ,
            answer_row=lambda row: list(self._answer(row, organ, unsigned).records),
            respond=respond,
        )

    def ConfirmMyNumberDelivery(
        self, request: fuhyo_pb.ConfirmMyNumberDeliveryRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.ConfirmMyNumberDeliveryResponse:
        validation.check_change_id(request.request_id, "request_id")
        deleted = self._my_numbers.confirm(current_caller(), request.request_id)
        return fuhyo_pb.ConfirmMyNumberDeliveryResponse(deleted=deleted)


def _register(server: grpc.Server, node: Node) -> None:
    add_access(server, node)
    add_node_admin(server, node)
    add_notices(server, node)
    config = node.config
    store = MyNumberStore(
        config.my_number_store_file or config.keyring_file.with_name("my-number-store.db"),
        node.sealer,
        ttl_s=config.my_number_ttl_s,
        clock=node.clock,
    )
    store.start()
    node.close_on_stop(store.close)
    metrics.observe(metrics.TEMPORARY_STORE_SIZE, lambda: [(store.size(), {})])
    fuhyo_grpc.add_FuhyoServiceServicer_to_server(FuhyoServicer(node, store), server)
    # Its CSs compare their fuhyo records here; it compares them with the national fuhyo server.
    add_consistency_answerer(server, node, {Role.CS: FUHYO_FILE})
    add_consistency_runner(server, node, {FUHYO_FILE: NEXT_HOP})
    publisher = add_transparency(server, node)
    add_provision_admin(server, node, publisher, disclosure.fuhyo_section)


def _national_sender(node: Node) -> outbox.Hop:
    return hop_sender(
        node,
        NEXT_HOP,
        method=m.DELIVER_PREFECTURE_FUHYO_CHANGES,
        rpc=lambda channel: (
            fuhyo_grpc.NationalFuhyoServiceStub(channel).DeliverPrefectureFuhyoChanges
        ),
        request_type=fuhyo_pb.DeliverPrefectureFuhyoChangesRequest,
        kind=delivery.FUHYO_CHANGES,
    )


SPEC = ServiceSpec(
    role=Role.FUHYO,
    service_names=(
        m.FUHYO_SERVICE,
        m.CHANGE_NOTICE_SERVICE,
        m.NODE_ADMIN_SERVICE,
        m.PROVISION_ADMIN_SERVICE,
        m.LOG_ADMIN_SERVICE,
        m.ACCESS_ADMIN_SERVICE,
        m.CONSISTENCY_SERVICE,
        m.CONSISTENCY_ADMIN_SERVICE,
    ),
    register=_register,
    senders={NEXT_HOP: _national_sender},
)
