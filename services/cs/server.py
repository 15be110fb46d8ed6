"""CsService: changes from the register system in; resident changes to the prefecture server,
fuhyo changes to the fuhyo server."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc, prefecture_service_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.changes import batch_plan, delivery, fuhyo_ledger, ledger, outbox
from jukinet.core import methods as m
from jukinet.core.config import FUHYO_HOP, NEXT_HOP
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity, Role
from jukinet.records import validation
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.storage.schema import outbox as outbox_table
from jukinet.trust.authz import current_caller
from services.shared.access import add_access
from services.shared.consistency import FUHYO_FILE, RESIDENT_FILE, add_consistency_runner
from services.shared.delivery import hop_sender
from services.shared.node_admin import add_node_admin
from services.shared.notices import add_notices
from services.shared.transparency import add_transparency

_STATE = {
    outbox.OutboxState.PENDING: cs_service_pb2.DELIVERY_STATE_PENDING,
    outbox.OutboxState.DELIVERED: cs_service_pb2.DELIVERY_STATE_DELIVERED,
    outbox.OutboxState.REJECTED: cs_service_pb2.DELIVERY_STATE_REJECTED,
    outbox.OutboxState.HELD: cs_service_pb2.DELIVERY_STATE_HELD,
}


class CsServicer(cs_service_pb2_grpc.CsServiceServicer):
    """Validates and stores a change, and queues it for the prefecture (or fuhyo) server."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def _check_municipality(self, change: common_pb2.Change | fuhyo_pb.FuhyoChange) -> None:
        # The field first: an empty or malformed code is INVALID_FIELD, not another's.
        validation.check_municipality(change.municipality_code, "municipality_code")
        if change.municipality_code != self._node.identity.code:
            raise RefusedError(Reason.WRONG_MUNICIPALITY)

    def _intake(self, register: Identity, hop: str) -> ledger.Intake:
        """Changes from the municipality's register system, queued for `hop` if configured."""
        return ledger.Intake(
            sender=register.spiffe_id,
            vault=self._node.sealer,
            forward=self._node.hop(hop) is not None,
            destination=hop,
            check_origin=self._check_municipality,
            clock=self._node.clock,
        )

    def SubmitChange(
        self, request: cs_service_pb2.SubmitChangeRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitChangeResponse:
        change = request.change
        self._check_municipality(change)
        with self._node.db.transaction() as conn:
            decision = ledger.take_change(conn, change, self._intake(current_caller(), NEXT_HOP))
        self._node.changes_queued()
        return cs_service_pb2.SubmitChangeResponse(
            change_id=change.change_id,
            duplicate=decision is ledger.DUPLICATE,
            held=decision.outcome == common_pb2.CHANGE_OUTCOME_HELD,
            outcome=ledger.accepted(decision),
        )

    def SubmitChanges(
        self, request: cs_service_pb2.SubmitChangesRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitChangesResponse:
        """Many changes, one transaction: taken in order like a delivered batch."""
        intake = self._intake(current_caller(), NEXT_HOP)
        with self._node.db.transaction() as conn:
            results = batch_plan.take_resident_batch(conn, request.changes, intake)
        self._node.changes_queued()
        return cs_service_pb2.SubmitChangesResponse(results=results)

    def SubmitFuhyoChange(
        self, request: cs_service_pb2.SubmitFuhyoChangeRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.SubmitFuhyoChangeResponse:
        change = request.change
        self._check_municipality(change)
        intake = self._intake(current_caller(), FUHYO_HOP)
        with self._node.db.transaction() as conn:
            decision = fuhyo_ledger.take_fuhyo_change(conn, change, intake)
        self._node.changes_queued()
        return cs_service_pb2.SubmitFuhyoChangeResponse(
            change_id=change.change_id,
            duplicate=decision is ledger.DUPLICATE,
            outcome=ledger.accepted(decision),
        )

    def GetChangeStatus(
        self, request: cs_service_pb2.GetChangeStatusRequest, context: grpc.ServicerContext
    ) -> cs_service_pb2.GetChangeStatusResponse:
        validation.check_change_id(request.change_id)
        with self._node.db.reading() as conn:
            row = conn.execute(
                select(
                    outbox_table.c.state,
                    outbox_table.c.rejection_reason,
                    outbox_table.c.attempts,
                    outbox_table.c.rejected_by,
                ).where(outbox_table.c.change_id == request.change_id)
            ).first()
        if row is None:
            raise RefusedError(Reason.UNKNOWN_CHANGE)
        return cs_service_pb2.GetChangeStatusResponse(
            change_id=request.change_id,
            state=_STATE[outbox.OutboxState(row.state)],
            rejection_reason=row.rejection_reason,
            attempts=row.attempts,
            rejected_by=row.rejected_by,
        )


def _register(server: grpc.Server, node: Node) -> None:
    add_access(server, node)
    add_node_admin(server, node)
    cs_service_pb2_grpc.add_CsServiceServicer_to_server(CsServicer(node), server)
    # The CS holds its municipality's truth: it compares both files with the servers above.
    add_consistency_runner(server, node, {RESIDENT_FILE: NEXT_HOP, FUHYO_FILE: FUHYO_HOP})
    add_transparency(server, node)
    add_notices(server, node)


def _prefecture_sender(node: Node) -> outbox.Hop:
    return hop_sender(
        node,
        NEXT_HOP,
        method=m.DELIVER_MUNICIPAL_CHANGES,
        rpc=lambda channel: prefecture_grpc.PrefectureServiceStub(channel).DeliverMunicipalChanges,
        request_type=prefecture_service_pb2.DeliverMunicipalChangesRequest,
    )


def _fuhyo_sender(node: Node) -> outbox.Hop:
    return hop_sender(
        node,
        FUHYO_HOP,
        method=m.DELIVER_MUNICIPAL_FUHYO_CHANGES,
        rpc=lambda channel: fuhyo_grpc.FuhyoServiceStub(channel).DeliverMunicipalFuhyoChanges,
        request_type=fuhyo_pb.DeliverMunicipalFuhyoChangesRequest,
        kind=delivery.FUHYO_CHANGES,
    )


SPEC = ServiceSpec(
    role=Role.CS,
    service_names=(
        m.CS_SERVICE,
        m.CHANGE_NOTICE_SERVICE,
        m.NODE_ADMIN_SERVICE,
        m.CONSISTENCY_ADMIN_SERVICE,
        m.LOG_ADMIN_SERVICE,
        m.ACCESS_ADMIN_SERVICE,
    ),
    register=_register,
    senders={NEXT_HOP: _prefecture_sender, FUHYO_HOP: _fuhyo_sender},
)
