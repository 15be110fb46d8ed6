"""One compromised node: whoever holds nothing but that node's folder — its config, TLS key and
certificate, sealing keys and database — and the project's own code.

`Insider(folder)` reads the node's config.json and what it names (its own keys; the network's
public trust bundle and key documents, which every node holds), and sends what that node could
send: sealed batches of any changes it likes to its next hop, as the node itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from juki.v1 import (
    common_pb2,
    fuhyo_service_pb2,
    my_number_link_service_pb2,
    my_number_link_service_pb2_grpc,
    national_service_pb2,
    prefecture_service_pb2,
)
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.core import methods as m
from jukinet.core.config import NextHop, NodeConfig, load_node_config
from jukinet.core.identity import Identity
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import NodeKeyring
from jukinet.trust import tls


@dataclass(frozen=True)
class _Delivery:
    """A delivery RPC: the hop it goes to, its method path, stub, request and batch types."""

    hop: str
    method: str
    stub: Any
    rpc: str
    request: Any
    batch: Any


_CS_RESIDENTS = _Delivery(
    "next_hop",
    m.DELIVER_MUNICIPAL_CHANGES,
    prefecture_grpc.PrefectureServiceStub,
    "DeliverMunicipalChanges",
    prefecture_service_pb2.DeliverMunicipalChangesRequest,
    common_pb2.ChangeBatch,
)
_CS_FUHYO = _Delivery(
    "fuhyo_hop",
    m.DELIVER_MUNICIPAL_FUHYO_CHANGES,
    fuhyo_grpc.FuhyoServiceStub,
    "DeliverMunicipalFuhyoChanges",
    fuhyo_service_pb2.DeliverMunicipalFuhyoChangesRequest,
    fuhyo_service_pb2.FuhyoChangeBatch,
)
_PREFECTURE_RESIDENTS = _Delivery(
    "next_hop",
    m.DELIVER_PREFECTURE_CHANGES,
    national_grpc.NationalServiceStub,
    "DeliverPrefectureChanges",
    national_service_pb2.DeliverPrefectureChangesRequest,
    common_pb2.ChangeBatch,
)


@dataclass(frozen=True)
class Insider:
    """The operator of one node gone bad, with that node's folder only."""

    folder: Path

    @property
    def config(self) -> NodeConfig:
        return load_node_config(self.folder / "config.json")

    def sealer(self) -> Sealer:
        """The node's own sealing: its private keys, the published key documents."""
        config = self.config
        return Sealer(
            config.spiffe_id,
            NodeKeyring(config.keyring_file),
            KeyDirectory(config.key_directory, config.credentials.trust_bundle),
        )

    def database(self) -> Engine:
        """The node's own database, to read or rewrite as it likes."""
        return create_engine(self.config.database_url)

    def _deliver(self, delivery: _Delivery, changes: Sequence[Any]) -> list[Any]:
        config = self.config
        hop: NextHop | None = getattr(config, delivery.hop)
        assert hop is not None, f"{config.name} has no {delivery.hop}"
        envelope = self.sealer().seal(
            delivery.batch(changes=changes), recipient=hop.spiffe_id, method=delivery.method
        )
        channel = tls.secure_channel(hop.address, config.credentials, Identity.parse(hop.spiffe_id))
        with channel:
            call = getattr(delivery.stub(channel), delivery.rpc)
            reply = call(delivery.request(envelope=envelope), timeout=10)
        return list(reply.results)

    def deliver_changes(self, *changes: common_pb2.Change) -> list[common_pb2.ChangeResult]:
        """Resident changes (repairs too) sealed to the node's next hop, as the node: a CS to
        its prefecture server, a prefecture server to the national server."""
        role = self.config.identity.role.value
        delivery = _CS_RESIDENTS if role == "cs" else _PREFECTURE_RESIDENTS
        return self._deliver(delivery, changes)

    def ask_link(self, link: my_number_link_service_pb2.MyNumberLinkRequest) -> str:
        """The narrow link as the node (a fuhyo server) asks it of its prefecture server:
        sealed with the node's keys over its TLS identity; the My Number, or grpc.RpcError."""
        config = self.config
        hop = config.link_hop
        assert hop is not None, f"{config.name} has no link_hop"
        sealer = self.sealer()
        envelope = sealer.seal(link, recipient=hop.spiffe_id, method=m.GET_MY_NUMBER_FOR_EMIGRANT)
        channel = tls.secure_channel(hop.address, config.credentials, Identity.parse(hop.spiffe_id))
        with channel:
            reply = my_number_link_service_pb2_grpc.MyNumberLinkServiceStub(
                channel
            ).GetMyNumberForEmigrant(
                my_number_link_service_pb2.GetMyNumberForEmigrantRequest(envelope=envelope),
                timeout=10,
            )
        _, answer = sealer.open(
            reply.envelope,
            my_number_link_service_pb2.MyNumberLinkAnswer,
            peer=hop.spiffe_id,
            method=m.GET_MY_NUMBER_FOR_EMIGRANT,
        )
        return str(answer.my_number)

    def deliver_fuhyo_changes(
        self, *changes: fuhyo_service_pb2.FuhyoChange
    ) -> list[common_pb2.ChangeResult]:
        """Fuhyo changes (repairs too) sealed to a CS's fuhyo server, as the CS."""
        return self._deliver(_CS_FUHYO, changes)
