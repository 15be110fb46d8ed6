"""Both sides of a delivery hop, as every node kind builds them from its node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from jukinet.changes import delivery, outbox
from jukinet.core.config import NEXT_HOP
from jukinet.core.errors import Reason
from jukinet.runtime.node import Node


def hop_sender(
    node: Node,
    hop: str,
    *,
    method: str,
    rpc: Callable[[grpc.Channel], Callable[..., Any]],
    request_type: Callable[..., Any],
    kind: delivery.ChangeKind = delivery.RESIDENT_CHANGES,
) -> outbox.Sender:
    """What `node`'s outbox sends its `hop` batches with: the delivery `method`, sealed."""
    stub = node.sealed_stub(
        hop,
        method=method,
        rpc=rpc,
        request_type=request_type,
        unavailable=Reason.NEXT_HOP_UNAVAILABLE,
    )
    if stub is None:
        raise ValueError(f"{node.config.name} has no {hop}")
    return delivery.batch_sender(stub, node.sealer, kind)


def hop_receiver(
    node: Node,
    *,
    method: str,
    origin: delivery.OriginCheck,
    kind: delivery.ChangeKind = delivery.RESIDENT_CHANGES,
) -> delivery.Receiver:
    """How `node` takes the batches delivered to it by `method`; forwarded if it has a next hop."""
    return delivery.Receiver(
        db=node.db,
        endpoint=node.endpoint(method),
        kind=kind,
        origin=origin,
        forward=node.hop(NEXT_HOP) is not None,
    )
