"""整合性確認's servicers: ConsistencyService at the tier above (prefecture, fuhyo and national
servers), ConsistencyAdminService at the node below that drives the comparison (CS,
prefecture and fuhyo servers), with its nightly schedule."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from juki.v1 import consistency_service_pb2 as pb
from juki.v1 import consistency_service_pb2_grpc as pb_grpc
from jukinet.consistency.answerer import Answerer
from jukinet.consistency.remote import Comparison
from jukinet.consistency.runner import Runner
from jukinet.consistency.runs import RunStore
from jukinet.core import methods as m
from jukinet.core.errors import Reason
from jukinet.core.identity import Role
from jukinet.runtime.consistency_schedule import ConsistencySchedule
from jukinet.runtime.node import Node
from jukinet.trust.authz import current_caller

RESIDENT_FILE = pb.RECORD_FILE_RESIDENT
FUHYO_FILE = pb.RECORD_FILE_FUHYO


class ConsistencyServicer(pb_grpc.ConsistencyServiceServicer):
    """Answers the nodes below (consistency/answerer.py)."""

    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer

    def DigestRanges(
        self, request: pb.DigestRangesRequest, context: grpc.ServicerContext
    ) -> pb.DigestRangesResponse:
        envelope = self._answerer.digest_ranges(request.envelope, current_caller())
        return pb.DigestRangesResponse(envelope=envelope)

    def ListLeaves(
        self, request: pb.ListLeavesRequest, context: grpc.ServicerContext
    ) -> pb.ListLeavesResponse:
        envelope = self._answerer.list_leaves(request.envelope, current_caller())
        return pb.ListLeavesResponse(envelope=envelope)


class ConsistencyAdminServicer(pb_grpc.ConsistencyAdminServiceServicer):
    """Operators run comparisons and approve repairs (consistency/runner.py)."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def RunConsistencyCheck(
        self, request: pb.RunConsistencyCheckRequest, context: grpc.ServicerContext
    ) -> pb.RunConsistencyCheckResponse:
        runner = self._runner
        runner.check_municipality(request.municipality_code)
        actor = current_caller().spiffe_id
        return pb.RunConsistencyCheckResponse(
            reports=[
                runner.run(request.municipality_code, file, actor)
                for file in runner.files_for(request.file)
            ]
        )

    def ApproveRepairs(
        self, request: pb.ApproveRepairsRequest, context: grpc.ServicerContext
    ) -> pb.ApproveRepairsResponse:
        return self._runner.approve(request.run_id, current_caller().spiffe_id)


def add_consistency_answerer(server: grpc.Server, node: Node, files: Mapping[Role, int]) -> None:
    """Serve ConsistencyService: a caller of each role in `files` compares that file here."""
    answerer = Answerer(
        db=node.db,
        digest_endpoint=node.endpoint(m.DIGEST_RANGES),
        list_endpoint=node.endpoint(m.LIST_LEAVES),
        files=files,
    )
    pb_grpc.add_ConsistencyServiceServicer_to_server(ConsistencyServicer(answerer), server)


def add_consistency_runner(server: grpc.Server, node: Node, hops: Mapping[int, str]) -> None:
    """Serve ConsistencyAdminService and run every comparison nightly: each file in `hops` is
    compared with that hop (where the node's config has it)."""
    comparisons: dict[int, Comparison] = {}
    for file, hop in hops.items():
        digests = node.sealed_stub(
            hop,
            method=m.DIGEST_RANGES,
            rpc=lambda channel: pb_grpc.ConsistencyServiceStub(channel).DigestRanges,
            request_type=pb.DigestRangesRequest,
            unavailable=Reason.NEXT_HOP_UNAVAILABLE,
        )
        listing = node.sealed_stub(
            hop,
            method=m.LIST_LEAVES,
            rpc=lambda channel: pb_grpc.ConsistencyServiceStub(channel).ListLeaves,
            request_type=pb.ListLeavesRequest,
            unavailable=Reason.NEXT_HOP_UNAVAILABLE,
        )
        if digests is not None and listing is not None:
            comparisons[file] = Comparison(file, hop, digests, listing)
    runner = Runner(
        vault=node.sealer,
        identity=node.identity,
        runs=RunStore(node.db, node.audit),
        subject=node.provision_log.subject,
        comparisons=comparisons,
        notify=node.changes_queued,
        clock=node.clock,
    )
    pb_grpc.add_ConsistencyAdminServiceServicer_to_server(ConsistencyAdminServicer(runner), server)
    if comparisons and node.config.consistency_at:
        node.add_job(
            ConsistencySchedule(
                lambda: runner.run_all(node.identity.spiffe_id),
                at=node.config.consistency_at,
                clock=node.clock,
                leader=node.leadership("consistency").held,
            )
        )
