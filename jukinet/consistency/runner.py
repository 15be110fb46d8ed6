"""The node below's side of 整合性確認: one run over one municipality's file, its report, its
repairs, and an operator's approval of the repairs that wait.

A run, in order:

1. snapshot this node's leaves of the municipality, and note the newest outbox entry for the
   tier above (one read transaction);
2. narrow down to the differing persons (narrowing.py), digests only;
3. wait until the outbox has sent everything up to that entry (else the run is incomplete:
   OUTBOX_BEHIND), so a change still on its way is not taken for a difference;
4. confirm each person against the present: ask the tier above for their leaves now and read
   ours now; a person whose leaf here changed since the snapshot is left to the next run
   (changed_during_run) — so changes committed during a run are compared in the next, and a
   difference is never invented from a moment that has passed;
5. classify (differences.py), queue the repairs that need no approval, record the run, its
   differences and an audit entry in one transaction (runs.py); then wait a little for the
   repairs to be delivered, to report it.

A difference whose version here the tier above refused when it was delivered (its outbox
entry is REJECTED) is not re-sent silently either: it waits for an operator like a content
difference, since re-sending it would bypass the refusal.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Connection, select

from juki.v1 import common_pb2
from juki.v1 import consistency_service_pb2 as pb
from jukinet.changes import outbox
from jukinet.changes.ledger import Vault
from jukinet.consistency import differences, leaves, repairs
from jukinet.consistency.narrowing import Pair, find_differing
from jukinet.consistency.remote import Comparison, RemoteAbove
from jukinet.consistency.runs import Found, RunStore
from jukinet.consistency.snapshot import Snapshot
from jukinet.core import methods as m
from jukinet.core import metrics
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, Role
from jukinet.records import validation
from jukinet.records.identifiers import is_known_municipality, prefecture_of
from jukinet.storage import Database

OUTBOX_WAIT_S = 30.0
REPAIR_WAIT_S = 10.0
POLL_S = 0.1
LISTED_DIFFERENCES = 1000
R = pb.RepairState


def _timestamp(at: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def _wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `done` until it holds (True) or `timeout_s` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


# What a run repairs by itself carries no approval (a RESEND needs none).
_UNAPPROVED = common_pb2.Repair()


@dataclass
class Runner:
    """Runs this node's comparisons with the tier above (see the module docstring).

    comparisons: by file, what this node compares (a CS both files, a prefecture server the
    resident file, a fuhyo server the fuhyo file). subject: the keyed hash a person is
    reported under. notify: wakes the outbox after repairs were queued.
    """

    vault: Vault
    identity: Identity
    runs: RunStore
    subject: Callable[[str], str]
    comparisons: Mapping[int, Comparison]
    notify: Callable[[], None]
    clock: Clock = SYSTEM

    @property
    def _db(self) -> Database:
        return self.runs.db

    # -- what this node compares ---------------------------------------------------------
    def check_municipality(self, municipality: str) -> None:
        """INVALID_ARGUMENT unless this node compares `municipality`'s records."""
        own = (
            municipality == self.identity.code
            if self.identity.role is Role.CS
            else is_known_municipality(municipality)
            and prefecture_of(municipality) == self.identity.prefecture
        )
        if not own:
            raise invalid_field("municipality_code", "is not one this node compares")

    def files_for(self, file: int) -> list[int]:
        """The files a request names (all this node compares if unset)."""
        if file == pb.RECORD_FILE_UNSPECIFIED:
            return sorted(self.comparisons)
        if file not in self.comparisons:
            raise invalid_field("file", "is not one this node compares")
        return [file]

    def municipalities(self) -> list[tuple[str, int]]:
        """Every (municipality, file) this node compares: a CS its own, the others every
        municipality of their prefecture they hold versions of."""
        if self.identity.role is Role.CS:
            return [(self.identity.code, file) for file in sorted(self.comparisons)]
        found: list[tuple[str, int]] = []
        with self._db.engine.connect() as conn:
            for file in sorted(self.comparisons):
                versions = leaves.FILES[file].versions
                codes = conn.execute(select(versions.c.municipality_code).distinct()).scalars()
                found.extend(
                    (code, file)
                    for code in sorted(codes)
                    if prefecture_of(code) == self.identity.prefecture
                )
        return found

    # -- one run -------------------------------------------------------------------------
    def run(self, municipality: str, file: int, actor: str) -> pb.ConsistencyReport:
        """Compare, repair what needs no approval, record and report (module docstring)."""
        self.check_municipality(municipality)
        comparison = self.comparisons[file]
        report = pb.ConsistencyReport(
            run_id=str(uuid.uuid4()),
            municipality_code=municipality,
            file=file,  # type: ignore[arg-type]
            compared_with=comparison.digests.peer,
            started_at=_timestamp(self.clock.now()),
        )
        above = RemoteAbove(comparison, report.run_id, municipality)
        warming = above.start()  # both sides build their snapshots at once
        with self._db.engine.connect() as conn, conn.begin():  # (1)
            snapshot = Snapshot(leaves.read_leaves(conn, file, municipality))
            sent_up_to = outbox.high_water(conn, comparison.hop)
        warming.join()
        pairs = find_differing(snapshot, above)  # (2)
        found: list[Found] = []
        if pairs and not self._outbox_caught_up(comparison.hop, sent_up_to):  # (3)
            report.incomplete_reason = Reason.OUTBOX_BEHIND
        else:
            found, report.changed_during_run = self._confirm(above, file, municipality, pairs)
            report.complete = True
        report.records_here = len(snapshot)
        report.records_above = above.total
        report.round_trips = above.round_trips
        report.bytes_sent = above.bytes_sent
        report.bytes_received = above.bytes_received
        queued = self._record(report, comparison, found, actor)  # (5)
        if queued:
            self.notify()
            report.repairs_delivered = self._delivered(queued)
            self.runs.update_report(report)
        for difference in found[:LISTED_DIFFERENCES]:
            report.differences.add(
                subject=self.subject(difference.code),
                kind=difference.kind,
                repair=difference.repair,
            )
        return report

    def _outbox_caught_up(self, hop: str, up_to: int) -> bool:
        def caught_up() -> bool:
            with self._db.engine.connect() as conn:
                return outbox.pending_up_to(conn, hop, up_to) == 0

        return _wait_until(caught_up, OUTBOX_WAIT_S)

    def _classify(
        self,
        conn: Connection,
        file: int,
        municipality: str,
        code: str,
        here: leaves.Leaf | None,
        above: leaves.Leaf | None,
    ) -> pb.DifferenceKind.ValueType | None:
        def earlier_here() -> set[bytes]:
            return leaves.earlier_digests(conn, file, municipality, code)

        return differences.classify(
            here,
            above,
            has_marker=leaves.FILES[file].marker is not None,
            earlier_here=earlier_here,
        )

    def _confirm(
        self, above: RemoteAbove, file: int, municipality: str, pairs: Mapping[int, Pair]
    ) -> tuple[list[Found], int]:
        """(4): the differences that hold now, and how many persons changed meanwhile."""
        keys = sorted(pairs)
        codes = [f"{key:011d}" for key in keys]
        above_now = above.now(codes)
        found: list[Found] = []
        changed = 0
        with self._db.engine.connect() as conn, conn.begin():
            here_now = leaves.leaves_of(conn, file, municipality, codes)
            refused = self._refused_above(conn, file, municipality, codes)
            for key, code in zip(keys, codes, strict=True):
                here = here_now.get(key)
                if here != pairs[key].here:
                    changed += 1
                    continue
                kind = self._classify(conn, file, municipality, code, here, above_now.get(key))
                if kind is None:
                    continue
                waits = kind in differences.NEEDS_APPROVAL or code in refused
                state = R.REPAIR_STATE_AWAITING_APPROVAL if waits else R.REPAIR_STATE_QUEUED
                found.append(Found(code, kind, state))
        return found, changed

    def _refused_above(
        self, conn: Connection, file: int, municipality: str, codes: Sequence[str]
    ) -> set[str]:
        """Those persons whose latest version here the tier above refused on delivery."""
        spec = leaves.FILES[file]
        latest: dict[str, str] = {}
        for start in range(0, len(codes), leaves.CODES_PER_STATEMENT):
            chunk = codes[start : start + leaves.CODES_PER_STATEMENT]
            query = leaves.latest_versions(spec, municipality, chunk).with_only_columns(
                spec.versions.c.juminhyo_code, spec.versions.c.change_id
            )
            latest.update({row.change_id: row.juminhyo_code for row in conn.execute(query)})
        states = outbox.states_of(conn, list(latest))
        return {
            latest[change_id]
            for change_id, state in states.items()
            if state is outbox.OutboxState.REJECTED
        }

    def _record(
        self, report: pb.ConsistencyReport, comparison: Comparison, found: list[Found], actor: str
    ) -> list[str]:
        """(5): queue the repairs that need no approval, and save the run, in one
        transaction. Returns the queued repairs' change ids."""
        report.found.CopyFrom(differences.count([f.kind for f in found]))
        file = (
            pb.RecordFile.Name(pb.RecordFile.ValueType(comparison.file))
            .removeprefix("RECORD_FILE_")
            .lower()
        )
        for f in found:
            kind = pb.DifferenceKind.Name(f.kind).removeprefix("DIFFERENCE_KIND_").lower()
            metrics.CONSISTENCY_DIFFERENCES.add(1, {"file": file, "kind": kind})
        report.awaiting_approval = sum(f.repair == R.REPAIR_STATE_AWAITING_APPROVAL for f in found)
        now = self.clock.now()
        report.finished_at.CopyFrom(_timestamp(now))
        with self._db.transaction() as conn:
            queued = [
                self._queue(conn, report, comparison, f.code, f.kind, _UNAPPROVED)
                for f in found
                if f.repair == R.REPAIR_STATE_QUEUED
            ]
            report.repairs_queued = len(queued)
            self.runs.save(conn, report, found, actor=actor, at=now)
        return queued

    def _queue(
        self,
        conn: Connection,
        report: pb.ConsistencyReport,
        comparison: Comparison,
        code: str,
        kind: pb.DifferenceKind.ValueType,
        approval: common_pb2.Repair,
    ) -> str:
        """Queue the repair of one difference, with the approval it was given (none for what
        a run repairs by itself); its change id."""
        repair = common_pb2.Repair()
        repair.CopyFrom(approval)
        repair.kind = differences.REPAIR_OF[kind]
        step = "approved" if approval.approved_by else "run"
        change = repairs.repair_change(
            conn,
            report.file,
            report.municipality_code,
            code,
            repair,
            repairs.repair_id(report.run_id, code, step),
        )
        repairs.queue_repair(
            conn, self.vault, change, destination=comparison.hop, now=self.clock.now()
        )
        return change.change_id

    def _delivered(self, change_ids: list[str]) -> int:
        """How many of the repairs reach the tier above within REPAIR_WAIT_S."""

        def delivered() -> int:
            with self._db.engine.connect() as conn:
                states = outbox.states_of(conn, change_ids)
            return sum(state is outbox.OutboxState.DELIVERED for state in states.values())

        _wait_until(lambda: delivered() == len(change_ids), REPAIR_WAIT_S)
        return delivered()

    # -- approval ------------------------------------------------------------------------
    def approve(self, run_id: str, actor: str) -> pb.ApproveRepairsResponse:
        """Repair the differences of `run_id` that wait, each confirmed again first: one
        that holds no more is RESOLVED, the others repaired as they differ now."""
        validation.check_change_id(run_id, "run_id")
        report, waiting, checked_by = self.runs.awaiting(run_id)
        if actor == checked_by:  # two persons: who ran the check does not approve its repairs
            raise RefusedError(Reason.APPROVER_RAN_THE_CHECK)
        approval = common_pb2.Repair(run_id=run_id, approved_by=actor, checked_by=checked_by)
        comparison = self.comparisons[report.file]
        above_now = RemoteAbove(comparison, run_id, report.municipality_code).now(waiting)
        answer = pb.ApproveRepairsResponse()
        with self._db.transaction() as conn:
            file, municipality = report.file, report.municipality_code
            here_now = leaves.leaves_of(conn, file, municipality, waiting)
            for code in waiting:
                key = int(code)
                kind = self._classify(
                    conn, file, municipality, code, here_now.get(key), above_now.get(key)
                )
                if kind is None:
                    answer.resolved += 1
                    self.runs.settle(conn, run_id, code, R.REPAIR_STATE_RESOLVED)
                    continue
                self._queue(conn, report, comparison, code, kind, approval)
                answer.repairs_queued += 1
                self.runs.settle(conn, run_id, code, R.REPAIR_STATE_APPROVED)
            self.runs.audit.append_in(
                conn,
                actor=actor,
                action=m.APPROVE_REPAIRS,
                outcome="approved",
                reason=f"queued={answer.repairs_queued} resolved={answer.resolved}",
            )
        if answer.repairs_queued:
            self.notify()
        return answer

    def run_all(self, actor: str) -> list[pb.ConsistencyReport]:
        """Every comparison this node makes (the scheduled run)."""
        return [self.run(code, file, actor) for code, file in self.municipalities()]
