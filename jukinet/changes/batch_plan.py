"""Taking a batch of resident changes set-wise: ledger.take_change's decisions, few statements.

Why: taking a change one by one ran about twelve statements per change at
every hop, and SQLAlchemy's per-statement work, not the database, was most of
P1's cost (bench/run.py, docs/benchmarks-history.md). Here a batch is first *planned*
in memory against the state read once for all of its persons — the change
ids already decided, each person's current version, the holders of its My
Numbers, whether changes are held for them — and then written with one
statement per table.

The plan takes the changes in order, each seeing the earlier ones of its
batch, through the one decision every way of taking a change makes
(records.lifecycle.decide), reading the state through the plan itself (a
`ResidentView` in memory) instead of the database. Where it meets what it
does not plan — a change to hold back, a change that held changes wait for,
an origin refusal of an id already decided — it gives up before anything is
written, and the batch is taken change by change instead. Either way the
results, the stored versions, the outbox and the remembered decisions are the
same; tests/test_batch_plan.py takes the same batches both ways and compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from juki.v1 import common_pb2
from jukinet.changes import batches, ledger, outbox, versions
from jukinet.core.clock import today_in_japan
from jukinet.core.errors import RefusedError
from jukinet.records import lifecycle, residents
from jukinet.storage import bulk
from jukinet.storage.schema import (
    held_changes,
    received_changes,
    resident_current,
    resident_versions,
)


class _GiveUp(Exception):
    """The plan met something it does not plan; take the batch change by change."""


@dataclass
class _Person:
    """One person's state as the plan goes: as stored, then as the batch leaves it."""

    current: lifecycle.Current | None
    version: int  # the latest version number (0: none)
    indexed: bool  # an index row exists in the store
    pending: dict[str, Any] | None = None  # the newest version this batch writes


@dataclass
class _Plan:
    """What a batch will write, built without writing; the ResidentView `decide` reads."""

    decided: dict[str, ledger.Decision]
    persons: dict[str, _Person]
    holders: dict[str, set[str]]  # My Number -> codes of persons who are not removed
    waiting: set[str]  # codes with held changes
    now: dt.datetime
    destination: str  # the hop queued changes go to
    decides_alone: bool  # no tier above (lifecycle.ResidentView)
    versions: list[dict[str, Any]] = field(default_factory=list)
    queued: list[common_pb2.Change] = field(default_factory=list)  # for the next hop
    remembered: list[dict[str, Any]] = field(default_factory=list)

    # -- lifecycle.ResidentView, as the batch so far leaves the store ---------------------
    def current(self, code: str) -> lifecycle.Current | None:
        return self.persons[code].current

    def my_number_held_by_another(self, my_number: str, person: frozenset[str]) -> bool:
        return bool(self.holders.get(my_number, set()) - person)

    def has_waiting(self, code: str) -> bool:
        return code in self.waiting

    # -- what the batch writes -------------------------------------------------------
    def remember(self, change_id: str, sender: str, decision: ledger.Decision) -> None:
        if not ledger.is_kept(change_id):
            return
        self.decided[change_id] = decision
        self.remembered.append(ledger.decision_row(change_id, sender, decision, self.now))

    def store(
        self,
        change: common_pb2.Change,
        record: common_pb2.ResidentRecord,
        *,
        removed: bool,
        served: bool,
    ) -> None:
        """A new version of `record`'s person (ledger.store_version, in memory)."""
        code = record.juminhyo_code
        person = self.persons[code]
        before = person.current
        if before is not None and not before.removed:
            self.holders.get(before.record.my_number, set()).discard(code)
        person.version += 1
        values = residents.version_values(
            change,
            record,
            version=person.version,
            removed=removed,
            recorded_at=self.now,
            served=served,
        )
        self.versions.append(values)
        person.pending = values
        person.current = lifecycle.Current.after(change, record, removed=removed, served=served)
        if not removed:
            self.holders.setdefault(record.my_number, set()).add(code)


def _read_state(
    conn: Connection, changes: Sequence[common_pb2.Change]
) -> tuple[dict[str, ledger.Decision], dict[str, _Person], dict[str, set[str]], set[str]]:
    """Everything the plan reads, one statement each for the whole batch."""
    bulk.plan_for_the_values(conn)  # tables that grow fast must not keep a plan for empty ones
    ids = [c.change_id for c in changes]
    codes = {c.record.juminhyo_code for c in changes} | {lifecycle.person_key(c) for c in changes}
    numbers = {c.record.my_number for c in changes}
    decided = {
        row.change_id: ledger.Decision(row.outcome, row.reason)
        for row in conn.execute(
            select(
                received_changes.c.change_id, received_changes.c.outcome, received_changes.c.reason
            ).where(bulk.one_of(conn, received_changes.c.change_id, ids))
        )
    }
    # A person's latest version number may be above their current one's (a version refused
    # above stays as history: changes/above.py), or exist for a person not current here.
    latest = dict(
        conn.execute(
            select(resident_versions.c.juminhyo_code, func.max(resident_versions.c.version))
            .where(bulk.one_of(conn, resident_versions.c.juminhyo_code, codes))
            .group_by(resident_versions.c.juminhyo_code)
        ).all()
    )
    persons = {code: _Person(None, int(latest.get(code, 0)), indexed=False) for code in codes}
    for row in conn.execute(
        residents.current_versions().where(
            bulk.one_of(conn, resident_current.c.juminhyo_code, codes)
        )
    ):
        persons[row.juminhyo_code] = _Person(
            residents.current_of(row), int(latest[row.juminhyo_code]), indexed=True
        )
    holders: dict[str, set[str]] = {}
    for number, code in conn.execute(
        select(resident_current.c.my_number, resident_current.c.juminhyo_code).where(
            bulk.one_of(conn, resident_current.c.my_number, numbers),
            resident_current.c.removed.is_(False),
        )
    ):
        holders.setdefault(number, set()).add(code)
    waiting = set(
        conn.execute(
            select(held_changes.c.person_key).where(
                bulk.one_of(conn, held_changes.c.person_key, codes),
                held_changes.c.record == ledger.RESIDENT,
            )
        ).scalars()
    )
    return decided, persons, holders, waiting


def _apply(plan: _Plan, change: common_pb2.Change, intake: ledger.Intake, today: dt.date) -> None:
    """lifecycle.decide for one change against the plan, applied to the plan; RefusedError or
    _GiveUp if it must be held or releases held changes (ledger._decide_and_write, in memory)."""
    verdict = lifecycle.decide(change, plan, today)
    if isinstance(verdict, lifecycle.Hold) or verdict.releases_held:
        raise _GiveUp
    for record, removed, served in verdict.versions:
        plan.store(change, record, removed=removed, served=served)
    if intake.forward:
        plan.queued.append(change)


def _plan(
    conn: Connection, changes: Sequence[common_pb2.Change], intake: ledger.Intake
) -> tuple[_Plan, list[common_pb2.ChangeResult]]:
    plan = _Plan(
        *_read_state(conn, changes),
        now=intake.clock.now(),
        destination=intake.destination,
        decides_alone=not intake.forward,
    )
    today = today_in_japan(intake.clock)
    results = []
    for change in changes:
        try:
            intake.check_origin(change)
        except RefusedError as refusal:
            if change.change_id in plan.decided:
                raise _GiveUp from refusal  # left to take_delivered_change as it stands
            decision = ledger.rejected(refusal)
            plan.remember(change.change_id, intake.sender, decision)
            results.append(decision.as_result(change.change_id))
            continue
        previous = plan.decided.get(change.change_id)
        if previous is not None:
            results.append(ledger.answer_again(previous).as_result(change.change_id))
            continue
        try:
            _apply(plan, change, intake, today)
            decision = ledger.APPLIED
        except RefusedError as refusal:
            decision = ledger.rejected(refusal)
        plan.remember(change.change_id, intake.sender, decision)
        results.append(decision.as_result(change.change_id))
    return plan, results


def _write(conn: Connection, plan: _Plan, vault: ledger.Vault) -> None:
    """The plan's rows: versions, then the index rows pointing at them, outbox (sealed at
    rest by `vault`, the lot under one key), decisions."""
    if plan.versions:
        ids = bulk.reserve_ids(conn, resident_versions, len(plan.versions))
        for values, version_id in zip(plan.versions, ids, strict=True):
            values["id"] = version_id
        bulk.insert_rows(conn, resident_versions, plan.versions)
        changed = [(code, p) for code, p in plan.persons.items() if p.pending is not None]
        _write_index(conn, changed)
    if plan.queued:
        sealed = vault.seal_all_at_rest(plan.queued)
        entries = [(c.change_id, payload) for c, payload in zip(plan.queued, sealed, strict=True)]
        outbox.enqueue(conn, entries, destination=plan.destination, now=plan.now)
    if plan.remembered:
        bulk.insert_rows(conn, received_changes, plan.remembered)
        ledger.count((row["outcome"], row["reason"]) for row in plan.remembered)


def _write_index(conn: Connection, changed: Iterable[tuple[str, _Person]]) -> None:
    updates, inserts = [], []
    for code, person in changed:
        assert person.pending is not None
        state = residents.index_row(person.pending, person.pending["id"])
        if person.indexed:
            updates.append({**state, "person": code})
        else:
            inserts.append({"juminhyo_code": code, **state})
    if updates:
        conn.execute(versions.point_index(resident_current), updates)
    if inserts:
        bulk.insert_rows(conn, resident_current, inserts)


def take_resident_batch(
    conn: Connection, changes: Sequence[common_pb2.Change], intake: ledger.Intake
) -> list[common_pb2.ChangeResult]:
    """batches.take_batch with ledger.take_change, set-wise where the plan allows."""
    batches.check_batch_size(changes)
    try:
        plan, results = _plan(conn, changes, intake)
    except _GiveUp:
        return batches.take_batch(conn, changes, intake, ledger.take_change)
    _write(conn, plan, intake.vault)
    return results
