"""The sending side of a delivery hop, as every node kind with an outbox builds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import message as protobuf_message

from juki.v1 import common_pb2
from jukinet.changes import delivery, outbox
from jukinet.core.errors import Reason
from jukinet.runtime.node import Node


def hop_sender(
    node: Node,
    hop: str,
    *,
    method: str,
    rpc: Callable[[grpc.Channel], Callable[..., Any]],
    request_type: Callable[..., Any],
    change_type: type[protobuf_message.Message] = common_pb2.Change,
    batch_type: Callable[..., protobuf_message.Message] = common_pb2.ChangeBatch,
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
    return delivery.batch_sender(stub, node.sealer, change_type=change_type, batch_type=batch_type)
