"""Provision of fuhyo records to organs, and the fuhyo side of the narrow link.

A query is answered like a resident-record query (provision.Provider over the
fuhyo file: task, key, items, provision log, the national fuhyo server for
another prefecture's emigrants). Then, only if the task is of the My Number
Act and allows the My Number, the organ asked for it (or for every item),
the query found exactly one person on this prefecture's file, and that
person emigrated, the My Number is obtained from the prefecture server
(mynumber_link.ask_prefecture) and added to the answer. It is held, sealed,
in the temporary store (my_number_store.py) so a failed delivery can be
repeated with the same request id without asking the prefecture again; the
organ's confirmation or the time-to-live deletes it.

The My Number goes into the answer message and the temporary store only:
never into the fuhyo tables, the provision log (which records that it was
given, with the person as a keyed hash), the audit log, a span or an error.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import grpc

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import provision_service_pb2 as pb
from jukinet.changes import delivery, fuhyo_ledger
from jukinet.changes.delivery import full_method
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity
from jukinet.provision.catalogue import FUHYO
from jukinet.provision.link import GET_MY_NUMBER_FOR_EMIGRANT, ask_prefecture
from jukinet.provision.log import PROVIDED, REFUSED, Entry, ProvisionLog
from jukinet.provision.my_number_store import MyNumberStore
from jukinet.provision.provider import AskNational, Provider, Provision, RecordKind, national_asker
from jukinet.records import fuhyo as fuhyo_records
from jukinet.records import validation
from jukinet.trust.authz import current_caller

if TYPE_CHECKING:
    from jukinet.runtime.node import Node

FUHYO_RECORDS = RecordKind(
    FUHYO,
    fuhyo_records.find,
    fuhyo_records.provided,
    fuhyo_pb.QueryFuhyoRecordsResponse,
    record_items=fuhyo_records.FUHYO_ITEMS,
)
QUERY_FUHYO_FOR_PREFECTURE = full_method(
    fuhyo_pb.DESCRIPTOR.services_by_name["NationalFuhyoService"], "QueryFuhyoForPrefecture"
)


def fuhyo_asker(node: Node) -> AskNational[fuhyo_pb.QueryFuhyoRecordsResponse] | None:
    """A fuhyo server's way to ask the national fuhyo server (None without a next hop)."""
    return national_asker(
        node,
        answer_type=fuhyo_pb.QueryFuhyoRecordsResponse,
        rpc=lambda channel: fuhyo_grpc.NationalFuhyoServiceStub(channel).QueryFuhyoForPrefecture,
        request_type=fuhyo_pb.QueryFuhyoForPrefectureRequest,
        method=QUERY_FUHYO_FOR_PREFECTURE,
    )


class EmigrantMyNumbers:
    """The fuhyo side of the narrow link: decide, ask (or re-send), hold, log."""

    def __init__(self, node: Node, store: MyNumberStore) -> None:
        self._node = node
        self._store = store
        self._log: ProvisionLog = node.provision_log

    def add(
        self,
        provision: Provision[fuhyo_pb.QueryFuhyoRecordsResponse],
        query: pb.ResidentQuery,
        organ: Identity,
    ) -> list[Entry]:
        """Add the My Number to the provision's one record if the link may be used; else say why.

        Returns the provision-log entry of the link's use (given or refused) for the caller to
        commit with the query's own.
        """
        if pb.RECORD_ITEM_MY_NUMBER not in provision.items:
            return []
        records = provision.response.records
        if not records:
            return []
        withheld = ""
        if provision.response.answered_by_national:
            withheld = "NOT_OF_THIS_PREFECTURE"
        elif len(provision.rows) != 1:
            withheld = "SEVERAL_MATCHES"
        elif provision.rows[0].status != fuhyo_pb.FUHYO_STATUS_EMIGRATED:
            withheld = "PERSON_NOT_EMIGRANT"
        if withheld:
            for record in records:
                record.my_number_withheld = withheld
            return []
        code = provision.rows[0].juminhyo_code
        entry = Entry(
            caller=organ.spiffe_id,
            recipient=organ.spiffe_id,
            operator_id=query.operator_id,
            task_id=query.task_id,
            request_id=query.request_id,
            key_kind="juminhyo_code",
            key_hash=self._log.keyed_hash("juminhyo_code", code),
            outcome=REFUSED,
        )
        try:
            my_number, how = self._obtain(query, organ, code)
        except RefusedError as refusal:
            records[0].my_number_withheld = refusal.reason
            self._node.audit.append(
                actor=organ.spiffe_id,
                action=GET_MY_NUMBER_FOR_EMIGRANT,
                outcome="refused",
                reason=refusal.reason,
            )
            return [dataclasses.replace(entry, reason=refusal.reason)]
        given = dataclasses.replace(
            entry,
            outcome=PROVIDED,
            subject_hash=self._log.subject(code),
            reason=how,
            items_given="my_number",
        )
        records[0].my_number = my_number
        records[0].items.append(pb.RECORD_ITEM_MY_NUMBER)
        return [given]

    def _obtain(self, query: pb.ResidentQuery, organ: Identity, code: str) -> tuple[str, str]:
        """(My Number, how): re-sent from the store, or asked of the prefecture and held."""
        held = self._store.get(organ.spiffe_id, query.request_id, code)
        if held is not None:
            return held, "RESENT"
        my_number = ask_prefecture(
            self._node,
            link_pb.MyNumberLinkRequest(
                juminhyo_code=code,
                task_id=query.task_id,
                organ=organ.spiffe_id,
                request_id=query.request_id,
            ),
        )
        self._store.put(organ.spiffe_id, query.request_id, code, my_number)
        return my_number, "VIA_LINK"

    def confirm(self, organ: Identity, request_id: str) -> bool:
        """The organ has the My Number of this request: forget it now."""
        return self._store.confirm(organ.spiffe_id, request_id)


class FuhyoServicer(fuhyo_grpc.FuhyoServiceServicer):
    """FuhyoService at a fuhyo prefecture server."""

    def __init__(
        self,
        node: Node,
        provider: Provider[fuhyo_pb.QueryFuhyoRecordsResponse],
        my_numbers: EmigrantMyNumbers,
    ) -> None:
        self._node = node
        self._provider = provider
        self._my_numbers = my_numbers

    def DeliverMunicipalFuhyoChanges(
        self,
        request: fuhyo_pb.DeliverMunicipalFuhyoChangesRequest,
        context: grpc.ServicerContext,
    ) -> fuhyo_pb.DeliverMunicipalFuhyoChangesResponse:
        results = delivery.receive_batch(
            self._node,
            request.envelope,
            method=delivery.DELIVER_MUNICIPAL_FUHYO_CHANGES,
            check_origin=delivery.from_callers_municipality,
            forward=True,
            batch_type=fuhyo_pb.FuhyoChangeBatch,
            take_batch=fuhyo_ledger.take_fuhyo_batch,
        )
        return fuhyo_pb.DeliverMunicipalFuhyoChangesResponse(results=results)

    def QueryFuhyoRecords(
        self, request: fuhyo_pb.QueryFuhyoRecordsRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.QueryFuhyoRecordsResponse:
        organ = current_caller()
        provision = self._provider.provide(
            request.query, caller=organ, recipient=organ, log_later=True
        )
        link_entries = self._my_numbers.add(provision, request.query, organ)
        # One durable commit for the query and the link's use, before the answer leaves.
        if entries := [*provision.unlogged, *link_entries]:
            self._node.provision_log.commit(entries)
        return provision.response

    def ConfirmMyNumberDelivery(
        self, request: fuhyo_pb.ConfirmMyNumberDeliveryRequest, context: grpc.ServicerContext
    ) -> fuhyo_pb.ConfirmMyNumberDeliveryResponse:
        validation.check_change_id(request.request_id, "request_id")
        deleted = self._my_numbers.confirm(current_caller(), request.request_id)
        return fuhyo_pb.ConfirmMyNumberDeliveryResponse(deleted=deleted)
