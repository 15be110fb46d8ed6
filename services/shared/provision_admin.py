"""ProvisionAdminService: disclosure, statistics, bulk approvals for a node's operators — at the
prefecture and national servers over resident records, at a fuhyo server over fuhyo records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc
from sqlalchemy import RowMapping

from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.core.errors import invalid_field
from jukinet.provision import disclosure, statistics
from jukinet.provision.approvals import BulkApprovals
from jukinet.provision.catalogue import default_catalogue
from jukinet.records.identifiers import is_valid_juminhyo_code
from jukinet.runtime.node import Node
from jukinet.transparency import inclusion, tlog
from jukinet.transparency.checkpoints import StoredCheckpoint
from jukinet.transparency.publisher import Publisher
from jukinet.trust.authz import current_caller
from services.shared.provision import bulk_approvals


class ProvisionAdminServicer(pb_grpc.ProvisionAdminServiceServicer):
    """Operator RPCs over the node's records and provision log."""

    def __init__(
        self,
        node: Node,
        approvals: BulkApprovals,
        publisher: Publisher,
        section: disclosure.Section = disclosure.resident_section,
    ) -> None:
        self._node = node
        self._approvals = approvals
        self._catalogue = default_catalogue()
        self._publisher = publisher
        self._section = section

    def DiscloseRecord(
        self, request: pb.DiscloseRecordRequest, context: grpc.ServicerContext
    ) -> pb.DiscloseRecordResponse:
        if not is_valid_juminhyo_code(request.juminhyo_code):
            raise invalid_field("juminhyo_code", "must be 11 digits with a valid check digit")
        merkle_log = self._publisher.logs[tlog.PROVISION.name]
        proofs: dict[str, Any] = {}

        def proven_by(rows: Sequence[RowMapping]) -> list[str]:
            def publish() -> tuple[StoredCheckpoint, bool]:
                return self._publisher.publish(tlog.PROVISION.name)

            proofs.update(inclusion.witnessed_proofs(merkle_log, publish, rows))
            return inclusion.describe(proofs)

        with self._node.db.reading() as conn:
            text, rows = disclosure.document(
                conn,
                self._node.provision_log,
                self._catalogue,
                request.juminhyo_code,
                node_name=self._node.config.name,
                now=self._node.clock.now(),
                section=self._section,
                proven_by=proven_by,
            )
        return pb.DiscloseRecordResponse(
            document=text,
            provision_count=len(rows),
            proofs=json.dumps(proofs, ensure_ascii=False) if proofs else "",
        )

    def GetProvisionStatistics(
        self, request: pb.GetProvisionStatisticsRequest, context: grpc.ServicerContext
    ) -> pb.GetProvisionStatisticsResponse:
        year = request.fiscal_year
        statistics.check_fiscal_year(year)
        with self._node.db.reading() as conn:
            lines = statistics.counts(conn, self._catalogue, year)
        return pb.GetProvisionStatisticsResponse(
            counts=lines,
            csv=statistics.as_csv(year, lines),
            table=statistics.as_table(year, lines),
        )

    def ApproveBulkProvision(
        self, request: pb.ApproveBulkProvisionRequest, context: grpc.ServicerContext
    ) -> pb.ApproveBulkProvisionResponse:
        approval_id, at = self._approvals.record(
            recipient=request.recipient,
            task_id=request.task_id,
            max_rows=request.max_rows,
            approved_by=current_caller(),
        )
        reply = pb.ApproveBulkProvisionResponse(approval_id=approval_id)
        reply.approved_at.FromDatetime(at)
        return reply


def add_provision_admin(
    server: grpc.Server,
    node: Node,
    publisher: Publisher,
    section: disclosure.Section = disclosure.resident_section,
) -> None:
    """Serve ProvisionAdminService over the node's records of `section`'s kind."""
    pb_grpc.add_ProvisionAdminServiceServicer_to_server(
        ProvisionAdminServicer(node, bulk_approvals(node), publisher, section), server
    )
