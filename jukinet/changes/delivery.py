"""The hop protocol between nodes: a batch of changes, sealed, sent from an outbox and taken once.

Sending (`batch_sender`): the outbox holds each change sealed to the sending
node itself; at delivery the rows are opened, gathered into one ChangeBatch
and sealed afresh to the next hop for the delivery method, so an envelope on
the wire is always within the receiver's time window however long the change
waited, and many records share one envelope's cost.

Receiving (`receive_batch`): open the envelope from the TLS peer (every check
of envelope.py), then in one transaction remember its message id (replay) and
take each change once (ledger.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf import message as protobuf_message

from juki.v1 import (
    common_pb2,
    envelope_pb2,
    fuhyo_service_pb2,
    national_service_pb2,
    prefecture_service_pb2,
)
from jukinet.changes import batch_plan, ledger
from jukinet.changes.outbox import Sender
from jukinet.core.config import NextHop
from jukinet.records.identifiers import prefecture_of
from jukinet.sealing import replay
from jukinet.trust.authz import current_caller

if TYPE_CHECKING:
    from jukinet.runtime.node import Node

DELIVERY_TIMEOUT_S = 10.0


def full_method(service: Any, method: str) -> str:
    """The gRPC path of `method` of a service descriptor, e.g. /juki.v1.X/Y."""
    return f"/{service.full_name}/{method}"


# The two hops' delivery RPCs; an envelope is sealed for exactly one of them.
DELIVER_MUNICIPAL_CHANGES = full_method(
    prefecture_service_pb2.DESCRIPTOR.services_by_name["PrefectureService"],
    "DeliverMunicipalChanges",
)
DELIVER_PREFECTURE_CHANGES = full_method(
    national_service_pb2.DESCRIPTOR.services_by_name["NationalService"], "DeliverPrefectureChanges"
)
# The fuhyo network's two hops.
DELIVER_MUNICIPAL_FUHYO_CHANGES = full_method(
    fuhyo_service_pb2.DESCRIPTOR.services_by_name["FuhyoService"], "DeliverMunicipalFuhyoChanges"
)
DELIVER_PREFECTURE_FUHYO_CHANGES = full_method(
    fuhyo_service_pb2.DESCRIPTOR.services_by_name["NationalFuhyoService"],
    "DeliverPrefectureFuhyoChanges",
)


def from_callers_municipality(change: Any) -> None:
    """`check_origin` of a CS's delivery: each change is of the CS's own municipality."""
    if change.municipality_code != current_caller().code:
        raise ledger.origin_mismatch()


def from_callers_prefecture(change: Any) -> None:
    """`check_origin` of a prefecture (or fuhyo) server's delivery: a municipality of its own."""
    if prefecture_of(change.municipality_code) != current_caller().prefecture:
        raise ledger.origin_mismatch()


def batch_sender(
    node: Node,
    rpc: Callable[[], Callable[..., Any]],
    request_type: Callable[..., Any],
    *,
    method: str,
    hop: NextHop | None = None,
    change_type: type[protobuf_message.Message] = common_pb2.Change,
    batch_type: Callable[..., protobuf_message.Message] = common_pb2.ChangeBatch,
) -> Sender:
    """A Sender delivering outbox rows to one hop (the node's next hop by default).

    `rpc()` returns the delivery method on the current channel (it changes
    when credentials are renewed); `request_type` is its request message,
    whose `envelope` field takes the sealed batch (`batch_type` of
    `change_type`); its response lists `results`.
    """
    hop = hop or node.config.next_hop
    assert hop is not None
    recipient = hop.spiffe_id

    def send(payloads: Sequence[bytes]) -> Sequence[common_pb2.ChangeResult]:
        # At rest for as long as the next hop was away: opened without a time window.
        changes = [node.sealer.open_at_rest(p, change_type) for p in payloads]
        envelope = node.sealer.seal(batch_type(changes=changes), recipient=recipient, method=method)
        reply = rpc()(request_type(envelope=envelope), timeout=DELIVERY_TIMEOUT_S)
        results: Sequence[common_pb2.ChangeResult] = reply.results
        return results

    return send


def receive_batch(
    node: Node,
    envelope: envelope_pb2.SealedEnvelope,
    *,
    method: str,
    check_origin: Callable[[Any], None],
    forward: bool,
    batch_type: type[protobuf_message.Message] = common_pb2.ChangeBatch,
    take_batch: ledger.TakeBatch[Any] = batch_plan.take_resident_batch,
) -> list[common_pb2.ChangeResult]:
    """Open a delivered envelope and take its changes with `take_batch`; RefusedError if it fails
    a check.

    `batch_type` is the sealed payload (ChangeBatch, or FuhyoChangeBatch with
    fuhyo_ledger.take_fuhyo_batch).
    """
    sender = current_caller().spiffe_id
    header, batch = node.sealer.open(envelope, batch_type, peer=sender, method=method)
    with node.db.transaction() as conn:
        replay.remember(conn, header)
        results = take_batch(
            conn,
            getattr(batch, "changes"),  # noqa: B009 - both batch types have it
            sender=sender,
            vault=node.sealer,
            forward=forward,
            check_origin=check_origin,
        )
    if forward:
        node.changes_queued()
    return results
