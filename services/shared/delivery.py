"""Both sides of a delivery hop, as every node kind builds them from its node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from jukinet.changes import above, delivery, outbox
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
) -> outbox.Hop:
    """How `node`'s outbox reaches its `hop`: batches sent by the delivery `method`, sealed, and
    the hop's answers settled (changes/above.py)."""
    stub = node.sealed_stub(
        hop,
        method=method,
        rpc=rpc,
        request_type=request_type,
        unavailable=Reason.NEXT_HOP_UNAVAILABLE,
    )
    target = node.hop(hop)
    if stub is None or target is None:
        raise ValueError(f"{node.config.name} has no {hop}")
    settle = above.settler(
        kind.file,
        vault=node.sealer,
        peer=target.spiffe_id,
        action=method,
        audit=node.audit,
        clock=node.clock,
    )
    return outbox.Hop(delivery.batch_sender(stub, node.sealer, kind), settle, target.spiffe_id)


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
