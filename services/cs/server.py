"""CsService: changes from the register system in; resident changes to the prefecture server,
fuhyo changes to the fuhyo server."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from sqlalchemy import select

from juki.v1 import (
    common_pb2,
    cs_service_pb2,
    cs_service_pb2_grpc,
    fuhyo_service_pb2,
    prefecture_service_pb2,
)
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.changes import batch_plan, delivery, fuhyo_ledger, ledger, outbox
from jukinet.core.config import FUHYO_HOP
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Role
from jukinet.records import validation
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.storage.schema import outbox as outbox_table
from jukinet.trust.authz import current_caller

_STATE = {
    outbox.OutboxState.PENDING: cs_service_pb2.DELIVERY_STATE_PENDING,
    outbox.OutboxState.DELIVERED: cs_service_pb2.DELIVERY_STATE_DELIVERED,
    outbox.OutboxState.REJECTED: cs_service_pb2.DELIVERY_STATE_REJECTED,
}


def wrong_municipality() -> RefusedError:
    """A change entered at a CS that does not keep that municipality."""
    return RefusedError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "WRONG_MUNICIPALITY",
        "the change's municipality is not the one this CS serves",
    )


def unknown_change() -> RefusedError:
    """A status request for a change this CS never accepted."""
    return RefusedError(grpc.StatusCode.NOT_FOUND, "UNKNOWN_CHANGE", "no such change here")


class CsServicer(cs_service_pb2_grpc.CsServiceServicer):
    """Validates and stores a change, and queues it for the prefecture server."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def _check_municipality(
        self, change: common_pb2.Change | fuhyo_service_pb2.FuhyoChange
    ) -> None:
        if change.municipality_code != self._node.identity.code:
            raise wrong_municipality()

    def SubmitChange(
        self, request: cs_service_pb2.SubmitChangeRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitChangeResponse:
        change = request.change
        self._check_municipality(change)
        with self._node.db.transaction() as conn:
            decision = ledger.take_change(
                conn,
                change,
                sender=current_caller().spiffe_id,
                vault=self._node.sealer,
                forward=True,
            )
        self._node.changes_queued()
        return cs_service_pb2.SubmitChangeResponse(
            change_id=change.change_id,
            duplicate=decision is ledger.DUPLICATE,
            held=decision.outcome == common_pb2.CHANGE_OUTCOME_HELD,
        )

    def SubmitChanges(
        self, request: cs_service_pb2.SubmitChangesRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitChangesResponse:
        """Many changes, one transaction: taken in order like a delivered batch."""
        with self._node.db.transaction() as conn:
            results = batch_plan.take_resident_batch(
                conn,
                request.changes,
                sender=current_caller().spiffe_id,
                vault=self._node.sealer,
                forward=True,
                check_origin=self._check_municipality,
            )
        self._node.changes_queued()
        return cs_service_pb2.SubmitChangesResponse(results=results)

    def SubmitFuhyoChange(
        self, request: cs_service_pb2.SubmitFuhyoChangeRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitFuhyoChangeResponse:
        change = request.change
        self._check_municipality(change)
        with self._node.db.transaction() as conn:
            decision = fuhyo_ledger.take_fuhyo_change(
                conn,
                change,
                sender=current_caller().spiffe_id,
                vault=self._node.sealer,
                forward=self._node.config.fuhyo_hop is not None,
                destination=FUHYO_HOP,
            )
        self._node.changes_queued()
        return cs_service_pb2.SubmitFuhyoChangeResponse(
            change_id=change.change_id, duplicate=decision is ledger.DUPLICATE
        )

    def GetChangeStatus(
        self, request: cs_service_pb2.GetChangeStatusRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.GetChangeStatusResponse:
        validation.check_change_id(request.change_id)
        with self._node.db.engine.connect() as conn:
            row = conn.execute(
                select(
                    outbox_table.c.state,
                    outbox_table.c.rejection_reason,
                    outbox_table.c.attempts,
                ).where(outbox_table.c.change_id == request.change_id)
            ).first()
        if row is None:
            raise unknown_change()
        return cs_service_pb2.GetChangeStatusResponse(
            change_id=request.change_id,
            state=_STATE[outbox.OutboxState(row.state)],
            rejection_reason=row.rejection_reason,
            attempts=row.attempts,
        )


def _register(server: grpc.Server, node: Node) -> None:
    cs_service_pb2_grpc.add_CsServiceServicer_to_server(CsServicer(node), server)


def _make_sender(node: Node, channel: Callable[[], grpc.Channel]) -> outbox.Sender:
    return delivery.batch_sender(
        node,
        lambda: prefecture_grpc.PrefectureServiceStub(channel()).DeliverMunicipalChanges,
        prefecture_service_pb2.DeliverMunicipalChangesRequest,
        method=delivery.DELIVER_MUNICIPAL_CHANGES,
    )


def _make_fuhyo_sender(node: Node, channel: Callable[[], grpc.Channel]) -> outbox.Sender:
    return delivery.batch_sender(
        node,
        lambda: fuhyo_grpc.FuhyoServiceStub(channel()).DeliverMunicipalFuhyoChanges,
        fuhyo_service_pb2.DeliverMunicipalFuhyoChangesRequest,
        method=delivery.DELIVER_MUNICIPAL_FUHYO_CHANGES,
        hop=node.config.fuhyo_hop,
        change_type=fuhyo_service_pb2.FuhyoChange,
        batch_type=fuhyo_service_pb2.FuhyoChangeBatch,
    )


SPEC = ServiceSpec(
    role=Role.CS,
    service_names=(cs_service_pb2.DESCRIPTOR.services_by_name["CsService"].full_name,),
    register=_register,
    make_sender=_make_sender,
    make_fuhyo_sender=_make_fuhyo_sender,
)
