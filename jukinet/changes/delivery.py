"""The hop protocol between nodes: a batch of changes, sealed, sent from an outbox and taken once.

Sending (`batch_sender`): the outbox holds each change sealed to the sending
node itself; at delivery the rows are opened, gathered into one batch and
sealed afresh to the next hop for the delivery method (sealing.sealed_rpc),
so an envelope on the wire is always within the receiver's time window
however long the change waited, and many records share one envelope's cost.

Receiving (`Receiver`): open the envelope from the TLS peer (every check of
envelope.py), then in one transaction remember its message id (replay) and
take the batch (ledger.py, batch_plan.py, fuhyo_ledger.py, repairs.py), refusing any
change the sender may not speak for (`from_municipality`, `from_prefecture`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import message as protobuf_message

from juki.v1 import common_pb2, envelope_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes import above, repairs
from jukinet.changes.batches import TakeBatch
from jukinet.changes.ledger import Intake, Vault
from jukinet.changes.outbox import Sender
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity
from jukinet.records.identifiers import prefecture_of
from jukinet.sealing.sealed_rpc import SealedEndpoint, SealedStub
from jukinet.storage import Database

DELIVERY_TIMEOUT_S = 10.0

# Given the delivering node, the check each change of its batch must pass.
OriginCheck = Callable[[Identity], Callable[[Any], None]]


@dataclass(frozen=True)
class ChangeKind:
    """A kind of change as it travels: its message, its batch, how a batch of it is taken, and
    its record file as the tier above's answers touch it (above.py)."""

    change_type: type[protobuf_message.Message]
    batch_type: Callable[..., protobuf_message.Message]
    take_batch: TakeBatch[Any]
    file: above.File


RESIDENT_CHANGES = ChangeKind(
    common_pb2.Change, common_pb2.ChangeBatch, repairs.take_resident_batch, above.RESIDENTS
)
FUHYO_CHANGES = ChangeKind(
    fuhyo_pb.FuhyoChange, fuhyo_pb.FuhyoChangeBatch, repairs.take_fuhyo_batch, above.FUHYO
)


def from_municipality(sender: Identity) -> Callable[[Any], None]:
    """A CS's delivery: each change is of the CS's own municipality (else ORIGIN_MISMATCH)."""

    def check(change: Any) -> None:
        if change.municipality_code != sender.code:
            raise RefusedError(Reason.ORIGIN_MISMATCH)

    return check


def from_prefecture(sender: Identity) -> Callable[[Any], None]:
    """A prefecture (or fuhyo) server's delivery: each change is of a municipality of its own."""

    def check(change: Any) -> None:
        if prefecture_of(change.municipality_code) != sender.prefecture:
            raise RefusedError(Reason.ORIGIN_MISMATCH)

    return check


def batch_sender(stub: SealedStub, vault: Vault, kind: ChangeKind) -> Sender:
    """An outbox Sender delivering rows through `stub` (whose reply lists `results`).

    The rows are changes of `kind` sealed at rest by `vault`; they travel as
    one batch.
    """

    def send(payloads: Sequence[bytes]) -> Sequence[common_pb2.ChangeResult]:
        # At rest for as long as the next hop was away: opened without a time window.
        changes = vault.open_all_at_rest(payloads, kind.change_type)
        reply = stub.send(kind.batch_type(changes=changes))
        results: Sequence[common_pb2.ChangeResult] = reply.results
        return results

    return send


@dataclass(frozen=True)
class Receiver:
    """The receiving side of one delivery hop at a node.

    kind: what the sealed batches hold and how they are taken; origin: which
    changes the sender may deliver; forward: queue what is applied for this
    node's next hop.
    """

    db: Database
    endpoint: SealedEndpoint
    kind: ChangeKind
    origin: OriginCheck
    forward: bool

    def receive(
        self, envelope: envelope_pb2.SealedEnvelope, sender: Identity
    ) -> list[common_pb2.ChangeResult]:
        """Open a delivered envelope and take its changes; RefusedError if it fails a check."""
        batch_type: Any = self.kind.batch_type
        request = self.endpoint.open(envelope, batch_type, sender)
        sealer = self.endpoint.sealer
        intake = Intake(
            sender=sender.spiffe_id,
            vault=sealer,
            forward=self.forward,
            check_origin=self.origin(sender),
            clock=sealer.clock,
        )
        with self.db.transaction() as conn:
            request.remember(conn)
            return self.kind.take_batch(conn, request.payload.changes, intake)
