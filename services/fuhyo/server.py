"""The fuhyo prefecture server: fuhyo changes from its CSs in and on to the national fuhyo
server; fuhyo records to the prefecture's organs, with an emigrant's My Number through the
narrow link where the task allows it."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from juki.v1 import fuhyo_service_pb2, fuhyo_service_pb2_grpc
from jukinet.changes import delivery, outbox
from jukinet.core.identity import Role
from jukinet.provision.catalogue import PREFECTURE_TABLES
from jukinet.provision.fuhyo import FUHYO_RECORDS, EmigrantMyNumbers, FuhyoServicer, fuhyo_asker
from jukinet.provision.my_number_store import MyNumberStore
from jukinet.provision.provider import Provider
from jukinet.runtime.node import Node, ServiceSpec


def _register(server: grpc.Server, node: Node) -> None:
    config = node.config
    store = MyNumberStore(
        config.my_number_store_file or config.keyring_file.with_name("my-number-store.db"),
        node.sealer,
        ttl_s=config.my_number_ttl_s,
    )
    store.start()
    node.close_on_stop(store.close)
    provider = Provider(
        node, tables=PREFECTURE_TABLES, kind=FUHYO_RECORDS, ask_national=fuhyo_asker(node)
    )
    fuhyo_service_pb2_grpc.add_FuhyoServiceServicer_to_server(
        FuhyoServicer(node, provider, EmigrantMyNumbers(node, store)), server
    )


def _make_sender(node: Node, channel: Callable[[], grpc.Channel]) -> outbox.Sender:
    return delivery.batch_sender(
        node,
        lambda: (
            fuhyo_service_pb2_grpc.NationalFuhyoServiceStub(channel()).DeliverPrefectureFuhyoChanges
        ),
        fuhyo_service_pb2.DeliverPrefectureFuhyoChangesRequest,
        method=delivery.DELIVER_PREFECTURE_FUHYO_CHANGES,
        change_type=fuhyo_service_pb2.FuhyoChange,
        batch_type=fuhyo_service_pb2.FuhyoChangeBatch,
    )


SPEC = ServiceSpec(
    role=Role.FUHYO,
    service_names=(fuhyo_service_pb2.DESCRIPTOR.services_by_name["FuhyoService"].full_name,),
    register=_register,
    make_sender=_make_sender,
)
