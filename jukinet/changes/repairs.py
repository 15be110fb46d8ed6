"""Taking a consistency repair: the node below re-sends its own version of a person
(jukinet/consistency sends them; common.proto Repair). The rule of what a repair may change
here has its one home here; who it may change is the rule every change obeys
(records/scope.py), checked first:

1. (1) the repair is well formed (validation.check_repair), and an OVERWRITE or WITHDRAW
   carries the approval it was given: a run, and an approving operator who is not who ran
   the check (REPAIR_NOT_APPROVED);
2. (2) the person is unknown here or kept by the repair's municipality (NOT_RESIDENT_HERE,
   KEPT_BY_ANOTHER_MUNICIPALITY): a municipality repairs only its own persons. A person
   unknown here is taken as any new person is: served only once the tier above took it.
   A resident whose current version here came from another municipality out of scope (a
   forgery written before the rule, or by hand) is still the repair's municipality's when
   this tier's own history says so (scope.out_of_scope): those versions are marked refused
   (NOT_RESIDENT_HERE, kept as history) and the index points at the keeper's again;
3. (3) a restored version that is not removed holds a My Number no other current resident
   holds (MY_NUMBER_IN_USE), as for any change.

Then, by kind:

- RESEND (the tier above was found missing the version, or behind): taken if this node's
  latest version of the person from that municipality is older or missing; a version
  already held is a no-op. It restores what this tier missed, not a future: its 更新順番号
  is at most RESEND_MAX_GAP beyond the person's current one here (SEQUENCE_TOO_FAR_AHEAD).
  Stored as a new version, the person's index moved to it (or, for an older one than the
  current, kept as history). Changes held back waiting for it are taken after it.
- OVERWRITE (an operator approved it: same version, different content): stored over a
  version of the same 更新順番号 (for a fuhyo: over any); never over a later one
  (STALE_SEQUENCE).
- WITHDRAW (an operator approved it: the municipality holds no such person): this node's
  versions of the person from that municipality are deleted, the index points at what is
  left, or goes.

Every repair is remembered by change id like any change (exactly once), and what was written
is queued for the next hop, so a repair taken at a prefecture reaches the national server.
Delivered batches holding repairs are taken change by change (`take_resident_batch`,
`take_fuhyo_batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, select, update

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes import batch_plan, batches, fuhyo_ledger, ledger, versions
from jukinet.core.clock import today_in_japan
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.records import fuhyo, residents, scope, validation
from jukinet.storage.schema import (
    content_columns,
    fuhyo_current,
    fuhyo_versions,
    resident_current,
    resident_versions,
)
from jukinet.storage.version_state import VersionState

RESEND = common_pb2.REPAIR_KIND_RESEND
WITHDRAW = common_pb2.REPAIR_KIND_WITHDRAW
# How many changes of one person a tier may have missed between two consistency checks (run
# nightly), with a wide margin: a re-sent version further ahead than that is not a lost one.
RESEND_MAX_GAP = 100


def _latest_from(conn: Connection, table: Table, code: str, municipality: str) -> Row[Any] | None:
    """The person's latest version here from `municipality` (not one refused above)."""
    return conn.execute(
        select(table)
        .where(
            table.c.juminhyo_code == code,
            table.c.municipality_code == municipality,
            table.c.state != VersionState.REFUSED,
        )
        .order_by(table.c.version.desc())
        .limit(1)
    ).first()


def _same_content(table: Table, row: Row[Any], values: dict[str, Any]) -> bool:
    return all(getattr(row, c.name) == values[c.name] for c in content_columns(table))


def _withdraw(
    conn: Connection,
    table: Table,
    current: Table,
    index_row: Callable[[dict[str, Any], int], dict[str, Any]],
    change: Any,
) -> None:
    """WITHDRAW: drop the person's versions from the municipality; re-point or drop the index."""
    code = change.record.juminhyo_code
    conn.execute(
        delete(table).where(
            table.c.juminhyo_code == code,
            table.c.municipality_code == change.municipality_code,
        )
    )
    versions.repoint_index(conn, table, current, index_row, code)


def _written(conn: Connection, change: Any, intake: ledger.Intake) -> ledger.Decision:
    """A repair that wrote something: queued for the next hop and remembered."""
    intake.queue(conn, change, intake.clock.now())
    ledger.remember(conn, change.change_id, intake, ledger.APPLIED)
    return ledger.APPLIED


def _nothing_to_do(conn: Connection, change: Any, intake: ledger.Intake) -> ledger.Decision:
    ledger.remember(conn, change.change_id, intake, ledger.APPLIED)
    return ledger.APPLIED


def _reclaim_resident(conn: Connection, change: common_pb2.Change) -> bool:
    """(2) for a resident kept here by another municipality: whether this tier's history says
    the repair's municipality keeps them; if so its out-of-scope versions are refused."""
    v, code = resident_versions, change.record.juminhyo_code
    moved_to = v.c.moved_to_municipality_code.label("moved_to")
    rows = conn.execute(
        select(v.c.id, v.c.municipality_code, v.c.change_reason, v.c.deleted, moved_to)
        .where(v.c.juminhyo_code == code, v.c.state != VersionState.REFUSED)
        .order_by(v.c.version)
    ).all()
    read = scope.out_of_scope(
        [scope.Step(r.municipality_code, r.change_reason, r.deleted, r.moved_to) for r in rows]
    )
    if read is None or read[0] != change.municipality_code:
        return False
    refused = [rows[position].id for position in read[1]]
    conn.execute(
        update(v)
        .where(v.c.id.in_(refused))
        .values(state=VersionState.REFUSED, refusal_reason=Reason.NOT_RESIDENT_HERE.name)
    )
    versions.repoint_index(conn, v, resident_current, residents.index_row, code)
    return True


def _restore_resident(
    conn: Connection, change: common_pb2.Change, intake: ledger.Intake, reclaimed: bool
) -> ledger.Decision:
    """RESEND or OVERWRITE of a resident version (see the module docstring)."""
    code, seq, now = change.record.juminhyo_code, change.sequence_number, intake.clock.now()
    view = ledger.DatabaseView(conn, decides_alone=not intake.forward)
    current = view.current(code)
    if current is not None and seq > current.sequence_number + RESEND_MAX_GAP:
        raise RefusedError(Reason.SEQUENCE_TOO_FAR_AHEAD)
    if not change.repair.removed and view.my_number_held_by_another(  # (3)
        change.record.my_number, frozenset({code})
    ):
        raise RefusedError(Reason.MY_NUMBER_IN_USE)
    mine = _latest_from(conn, resident_versions, code, change.municipality_code)
    if mine is not None:
        if mine.sequence_number > seq:
            raise RefusedError(Reason.STALE_SEQUENCE)
        values = residents.version_values(
            change, change.record, version=0, removed=change.repair.removed, recorded_at=now
        )
        if mine.sequence_number == seq and (
            change.repair.kind == RESEND or _same_content(resident_versions, mine, values)
        ):
            return (_written if reclaimed else _nothing_to_do)(conn, change, intake)
    is_latest = current is None or current.sequence_number <= seq
    served = scope.served_when_stored(
        decides_alone=view.decides_alone,
        served_before=None if current is None else current.served,
        new_code=False,
    )
    versions.store_resident_version(
        conn,
        change,
        change.record,
        removed=change.repair.removed,
        now=now,
        served=served,
        move_index=is_latest,
    )
    decision = _written(conn, change, intake)
    if is_latest:
        ledger.release_held(conn, change, intake)
    return decision


def _restore_fuhyo(
    conn: Connection, change: fuhyo_pb.FuhyoChange, intake: ledger.Intake, reclaimed: bool
) -> ledger.Decision:
    """RESEND or OVERWRITE of a fuhyo version (see the module docstring)."""
    code, now = change.record.juminhyo_code, intake.clock.now()
    current = fuhyo.current(conn, code)
    mine = _latest_from(conn, fuhyo_versions, code, change.municipality_code)
    values = fuhyo.version_values(change, version=0, recorded_at=now)
    if mine is not None and _same_content(fuhyo_versions, mine, values):
        return _nothing_to_do(conn, change, intake)
    served = scope.served_when_stored(
        decides_alone=not intake.forward,
        served_before=None if current is None else fuhyo.is_served(current),
        new_code=False,
    )
    fuhyo_ledger.store_fuhyo_version(conn, change, now, served=served)
    decision = _written(conn, change, intake)
    fuhyo_ledger.release_held(conn, code, intake)
    return decision


@dataclass(frozen=True)
class _File:
    """What taking a repair needs of one record file."""

    versions: Table
    current: Table
    index_row: Callable[[dict[str, Any], int], dict[str, Any]]
    restore: Callable[[Connection, Any, ledger.Intake, bool], ledger.Decision]
    keeper_column: str  # the index column naming who keeps the person
    not_kept: Reason  # the refusal of a repair of a person another municipality keeps
    # (2) past an out-of-scope version (residents; a fuhyo is refused: fail closed)
    reclaim: Callable[[Connection, Any], bool] = lambda conn, change: False

    def check_keeper(self, conn: Connection, change: Any) -> bool:
        """(2): the person is unknown here or kept by the repair's municipality; True if it
        was taken back from an out-of-scope version (the index was moved)."""
        keeper = conn.execute(
            select(self.current.c[self.keeper_column]).where(
                self.current.c.juminhyo_code == change.record.juminhyo_code
            )
        ).scalar()
        try:
            scope.check_keeper(change.municipality_code, keeper, self.not_kept)
        except RefusedError:
            if self.reclaim(conn, change):
                return True
            raise
        return False


_RESIDENT = _File(
    resident_versions,
    resident_current,
    residents.index_row,
    _restore_resident,
    "municipality_code",
    Reason.NOT_RESIDENT_HERE,
    _reclaim_resident,
)
_FUHYO = _File(
    fuhyo_versions,
    fuhyo_current,
    fuhyo.index_row,
    _restore_fuhyo,
    "keeping_municipality_code",
    Reason.KEPT_BY_ANOTHER_MUNICIPALITY,
)


def _take_repair(
    file: _File, conn: Connection, change: Any, intake: ledger.Intake
) -> ledger.Decision:
    """One repair (see the module docstring); RefusedError having written nothing."""
    previous = ledger.previous_decision(conn, change.change_id)
    if previous is not None:
        return previous
    validation.check_repair(change, today_in_japan(intake.clock))  # (1)
    _check_approval(change.repair)
    reclaimed = file.check_keeper(conn, change)  # (2)
    if change.repair.kind == WITHDRAW:
        _withdraw(conn, file.versions, file.current, file.index_row, change)
        return _written(conn, change, intake)
    return file.restore(conn, change, intake, reclaimed)


def _check_approval(repair: common_pb2.Repair) -> None:
    """(1): an OVERWRITE or WITHDRAW names its run and an operator, other than who ran the
    check, who approved it (consistency/runner.py `approve`)."""
    if repair.kind == RESEND:
        return
    try:
        approver = Identity.parse(repair.approved_by)
        validation.check_change_id(repair.run_id, "repair.run_id")
    except (IdentityError, RefusedError):
        raise RefusedError(Reason.REPAIR_NOT_APPROVED) from None
    if approver.role is not Role.OPERATOR or repair.approved_by == repair.checked_by:
        raise RefusedError(Reason.REPAIR_NOT_APPROVED)


def take_resident_repair(
    conn: Connection, change: common_pb2.Change, intake: ledger.Intake
) -> ledger.Decision:
    """Take one resident repair."""
    return _take_repair(_RESIDENT, conn, change, intake)


def take_fuhyo_repair(
    conn: Connection, change: fuhyo_pb.FuhyoChange, intake: ledger.Intake
) -> ledger.Decision:
    """Take one fuhyo repair."""
    return _take_repair(_FUHYO, conn, change, intake)


def _either(repair: batches.Take[Any], ordinary: batches.Take[Any]) -> batches.Take[Any]:
    def take(conn: Connection, change: Any, intake: ledger.Intake) -> ledger.Decision:
        if change.HasField("repair"):
            return repair(conn, change, intake)
        return ordinary(conn, change, intake)

    return take


_take_resident = _either(take_resident_repair, ledger.take_change)
_take_fuhyo = _either(take_fuhyo_repair, fuhyo_ledger.take_fuhyo_change)


def take_resident_batch(
    conn: Connection, changes: Sequence[common_pb2.Change], intake: ledger.Intake
) -> list[common_pb2.ChangeResult]:
    """A delivered batch of resident changes: set-wise (batch_plan) unless it holds repairs."""
    if any(change.HasField("repair") for change in changes):
        return batches.take_batch(conn, changes, intake, _take_resident)
    return batch_plan.take_resident_batch(conn, changes, intake)


def take_fuhyo_batch(
    conn: Connection, changes: Sequence[fuhyo_pb.FuhyoChange], intake: ledger.Intake
) -> list[common_pb2.ChangeResult]:
    """A delivered batch of fuhyo changes, one by one, repairs among them."""
    return batches.take_batch(conn, changes, intake, _take_fuhyo)
