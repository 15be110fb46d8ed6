"""ProvisionService: organs (at their prefecture server) and agencies (at the national server)
ask for records under a task; the caller is the recipient."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.provision.approvals import BulkApprovals
from jukinet.provision.catalogue import description
from jukinet.provision.provider import Provider
from jukinet.runtime.node import Node
from jukinet.trust.authz import current_caller


class ProvisionServicer(pb_grpc.ProvisionServiceServicer):
    """ProvisionService over a Provider."""

    def __init__(self, provider: Provider[pb.QueryResidentsResponse]) -> None:
        self._provider = provider

    def QueryResidents(
        self, request: pb.QueryResidentsRequest, context: grpc.ServicerContext
    ) -> pb.QueryResidentsResponse:
        caller = current_caller()
        return self._provider.answer(request.query, caller=caller, recipient=caller)

    def BulkQueryResidents(
        self,
        request_iterator: Iterator[pb.BulkQueryResidentsRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.BulkQueryResidentsResponse]:
        return self._provider.bulk(request_iterator, current_caller(), respond=bulk_answer)

    def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.ServicerContext
    ) -> pb.ListTasksResponse:
        tasks = self._provider.catalogue.tasks
        return pb.ListTasksResponse(tasks=[description(tasks[i]) for i in sorted(tasks)])


def bulk_answer(
    request_id: str, records: Sequence[pb.ProvidedRecord], refusal: str
) -> pb.BulkQueryResidentsResponse:
    """One row's answer of BulkQueryResidents."""
    return pb.BulkQueryResidentsResponse(
        request_id=request_id, records=records, refusal_reason=refusal
    )


def bulk_approvals(node: Node) -> BulkApprovals:
    """The node's bulk approvals, with the threshold of its config."""
    return BulkApprovals(node.db, threshold=node.config.bulk_approval_threshold, clock=node.clock)
