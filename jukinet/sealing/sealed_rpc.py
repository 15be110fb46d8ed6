"""One sealed RPC, both sides: what delivery, the national fallback and the narrow link share.

Client side (`SealedStub`): seal the payload to the peer for the method,
call, and where the answer is sealed too (`ask`), open it as coming from
that peer for that method. A failed call becomes this node's refusal
(errors.passed_on): the peer's status and reason when it refused,
`unavailable` when it did not answer.

Server side (`SealedEndpoint`): open the request as coming from the calling
peer (the envelope's sender must be the TLS peer, and every other check of
Sealer.open), let the caller remember its message id inside the transaction
that acts on it (`Request.remember`: replay protection), and seal the answer
back to the caller for the same method.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import message as protobuf_message
from sqlalchemy import Connection

from juki.v1 import envelope_pb2
from jukinet.core.errors import Reason, passed_on
from jukinet.core.identity import Identity
from jukinet.sealing import replay
from jukinet.sealing.envelope import Sealer

P = TypeVar("P", bound=protobuf_message.Message)

# Sends the request message carrying a sealed envelope; returns the reply message.
Call = Callable[[envelope_pb2.SealedEnvelope], Any]


def unary(
    rpc: Callable[[], Callable[..., Any]], request_type: Callable[..., Any], *, timeout_s: float
) -> Call:
    """A Call of one unary RPC: `rpc()` is the stub method on the current channel (it changes
    when credentials are renewed), `request_type` the request with an `envelope` field."""

    def call(envelope: envelope_pb2.SealedEnvelope) -> Any:
        return rpc()(request_type(envelope=envelope), timeout=timeout_s)

    return call


@dataclass(frozen=True)
class SealedStub:
    """The client side of one sealed RPC to one peer.

    peer: the SPIFFE ID requests are sealed to (and sealed answers must come from).
    method: the RPC's path (methods.py); envelopes are bound to it.
    call: sends the request (`unary`).
    unavailable: the reason when the peer did not answer at all.
    """

    sealer: Sealer
    peer: str
    method: str
    call: Call
    unavailable: Reason

    def send(self, payload: protobuf_message.Message) -> Any:
        """Seal `payload`, call, return the reply; RefusedError if the call failed."""
        return self._call(self.sealer.seal(payload, recipient=self.peer, method=self.method))

    def _call(self, envelope: envelope_pb2.SealedEnvelope) -> Any:
        try:
            return self.call(envelope)
        except grpc.RpcError as error:
            raise passed_on(error, unavailable=self.unavailable) from None

    def ask(self, payload: protobuf_message.Message, answer_type: type[P]) -> P:
        """`send`, then open the reply's sealed `envelope` as an `answer_type` from the peer."""
        return self.exchange(payload, answer_type).answer

    def exchange(self, payload: protobuf_message.Message, answer_type: type[P]) -> Exchange[P]:
        """`ask`, also saying how many bytes each way the request and reply messages took."""
        envelope = self.sealer.seal(payload, recipient=self.peer, method=self.method)
        reply = self._call(envelope)
        _, answer = self.sealer.open(
            reply.envelope, answer_type, peer=self.peer, method=self.method
        )
        return Exchange(answer, envelope.ByteSize(), reply.ByteSize())


@dataclass(frozen=True)
class Exchange(Generic[P]):
    """An opened answer, and the size of the sealed request and reply that carried it."""

    answer: P
    bytes_sent: int
    bytes_received: int


@dataclass(frozen=True)
class Request(Generic[P]):
    """An opened request: its header, its payload, and when it was received."""

    header: envelope_pb2.EnvelopeHeader
    payload: P
    received_at: dt.datetime

    def remember(self, conn: Connection) -> None:
        """Record its message id in the caller's transaction; ENVELOPE_REPLAYED if seen before."""
        replay.remember(conn, self.header, now=self.received_at)


@dataclass(frozen=True)
class SealedEndpoint:
    """The server side of one sealed RPC."""

    sealer: Sealer
    method: str

    def open(
        self, envelope: envelope_pb2.SealedEnvelope, payload_type: type[P], caller: Identity
    ) -> Request[P]:
        """Open a request sealed to this node by `caller` (the TLS peer) for this method."""
        received_at = self.sealer.clock.now()
        header, payload = self.sealer.open(
            envelope, payload_type, peer=caller.spiffe_id, method=self.method, now=received_at
        )
        return Request(header, payload, received_at)

    def seal(
        self, answer: protobuf_message.Message, caller: Identity
    ) -> envelope_pb2.SealedEnvelope:
        """The answer, sealed back to `caller` for this method."""
        return self.sealer.seal(answer, recipient=caller.spiffe_id, method=self.method)
