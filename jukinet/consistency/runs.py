"""Where a node keeps its comparison runs: each run's report (counts only, serialized
ConsistencyReport), the persons found different with what was done about each, and an audit
entry per run and per approval (no personal data: counts and codes of reasons)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from juki.v1 import consistency_service_pb2 as pb
from jukinet.core import methods as m
from jukinet.core.errors import Reason, RefusedError
from jukinet.storage import Database
from jukinet.storage.schema import consistency_differences, consistency_runs
from jukinet.trust.audit import AuditLog

R = pb.RepairState


@dataclass(frozen=True)
class Found:
    """A confirmed difference: the person, how they differ, what is done about it."""

    code: str
    kind: pb.DifferenceKind.ValueType
    repair: pb.RepairState.ValueType


def audit_fields(report: pb.ConsistencyReport) -> dict[str, str]:
    """The audit entry of a run: its outcome, and its counts."""
    counts = report.found
    total = (
        counts.missing_above
        + counts.missing_below
        + counts.different_version
        + counts.different_content
    )
    if not report.complete:
        return {"outcome": "incomplete", "reason": report.incomplete_reason}
    return {
        "outcome": "differences" if total else "consistent",
        "reason": (
            f"file={report.file} municipality={report.municipality_code} "
            f"missing_above={counts.missing_above} missing_below={counts.missing_below} "
            f"different_version={counts.different_version} "
            f"different_content={counts.different_content} queued={report.repairs_queued}"
        ),
    }


@dataclass(frozen=True)
class RunStore:
    """The runs of one node."""

    db: Database
    audit: AuditLog

    def save(
        self,
        conn: Connection,
        report: pb.ConsistencyReport,
        found: Sequence[Found],
        *,
        actor: str,
        at: dt.datetime,
    ) -> None:
        """Record a run, its differences and its audit entry in the caller's transaction."""
        if found:
            conn.execute(
                insert(consistency_differences),
                [
                    {
                        "run_id": report.run_id,
                        "juminhyo_code": f.code,
                        "kind": f.kind,
                        "repair": f.repair,
                    }
                    for f in found
                ],
            )
        conn.execute(
            insert(consistency_runs),
            {
                "run_id": report.run_id,
                "municipality_code": report.municipality_code,
                "file": report.file,
                "finished_at": at,
                "report": report.SerializeToString(),
                "checked_by": actor,
            },
        )
        self.audit.append_in(
            conn, actor=actor, action=m.RUN_CONSISTENCY_CHECK, **audit_fields(report)
        )

    def update_report(self, report: pb.ConsistencyReport) -> None:
        """Store a run's report again (after its repairs were delivered)."""
        with self.db.transaction() as conn:
            conn.execute(
                update(consistency_runs)
                .where(consistency_runs.c.run_id == report.run_id)
                .values(report=report.SerializeToString())
            )

    def awaiting(self, run_id: str) -> tuple[pb.ConsistencyReport, list[str], str]:
        """A run's report, the persons whose repair waits for approval, and who ran it;
        UNKNOWN_RUN."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(consistency_runs.c.report, consistency_runs.c.checked_by).where(
                    consistency_runs.c.run_id == run_id
                )
            ).first()
            if row is None:
                raise RefusedError(Reason.UNKNOWN_RUN)
            codes = conn.execute(
                select(consistency_differences.c.juminhyo_code).where(
                    consistency_differences.c.run_id == run_id,
                    consistency_differences.c.repair == R.REPAIR_STATE_AWAITING_APPROVAL,
                )
            ).scalars()
            return pb.ConsistencyReport.FromString(row.report), list(codes), row.checked_by

    @staticmethod
    def settle(conn: Connection, run_id: str, code: str, state: pb.RepairState.ValueType) -> None:
        """What became of a difference that waited for approval."""
        conn.execute(
            update(consistency_differences)
            .where(
                consistency_differences.c.run_id == run_id,
                consistency_differences.c.juminhyo_code == code,
            )
            .values(repair=state)
        )

    def latest(self) -> list[pb.ConsistencyReport]:
        """The latest run of each municipality and file."""
        runs = consistency_runs
        newest = (
            select(runs.c.municipality_code, runs.c.file, func.max(runs.c.finished_at).label("at"))
            .group_by(runs.c.municipality_code, runs.c.file)
            .subquery()
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.report)
                .join(
                    newest,
                    (runs.c.municipality_code == newest.c.municipality_code)
                    & (runs.c.file == newest.c.file)
                    & (runs.c.finished_at == newest.c.at),
                )
                .order_by(runs.c.municipality_code, runs.c.file)
            ).scalars()
            return [pb.ConsistencyReport.FromString(report) for report in rows]
