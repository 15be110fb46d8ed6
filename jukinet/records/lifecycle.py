"""The change reasons (異動事由) and the logic checks each must pass (seeds 002-004).

`judge(change, current)` decides, from the person's current state on this
node alone, whether a well-formed change applies now, waits for an earlier
one, or is refused. The checks, in order:

1. (1) unknown person: only 出生, 転入 and 職権記載 may create a record
   (UNKNOWN_PERSON); a birth starts at update sequence number 1, and a
   birth for a known person is refused (BIRTH_FOR_EXISTING_CODE);
2. (2) order: the update sequence number (更新順番号) must be the next one;
   a lower one is stale (STALE_SEQUENCE: never a silent overwrite), a higher
   one waits for the gap to fill (HOLD);
3. (3) removed persons (除票): only 転入 or 職権記載 bring them back, and only
   at a municipality that may take them in (scope.py: where the 転出 went, or
   anywhere after an emigration or ex-officio removal; TAKE_IN_NOT_ALLOWED);
   removing them again is refused (REMOVAL_OF_REMOVED_PERSON), anything else
   too (CHANGE_FOR_REMOVED_PERSON);
4. (4) current residents: a move-in (MOVE_IN_FOR_CURRENT_RESIDENT) or an
   entry (ENTRY_FOR_CURRENT_RESIDENT) is refused; the change must come from
   the municipality that keeps the person (scope.py; NOT_RESIDENT_HERE);
5. (5) what each reason may change: 転居 the address only, 氏名変更 the name
   only, 個人番号変更 the My Number only, 住民票コード変更 the code only,
   職権修正 anything but the code, a removal nothing (it records the person
   as they were).

`decide(change, view, today)` is the whole decision, the one path every way
of taking a change goes through (one by one against the database, or planned
set-wise in memory: changes/ledger.py, changes/batch_plan.py): the change's
own fields (validation.py), then `judge`, then the checks needing other
persons (6): a new 住民票コード must be unused (CODE_ALREADY_IN_USE) and a
My Number must not be someone else's (MY_NUMBER_IN_USE). It reads the store
only through a `ResidentView` and writes nothing: it says what to write, and
whether each version may be answered at once here (scope.served_when_stored).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from juki.v1 import common_pb2
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.records import scope, validation

R = common_pb2
CREATING = frozenset(
    {R.CHANGE_REASON_BIRTH, R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_EX_OFFICIO_ENTRY}
)
REMOVING = frozenset(
    {
        R.CHANGE_REASON_MOVE_OUT,
        R.CHANGE_REASON_DEATH,
        R.CHANGE_REASON_EMIGRATION,
        R.CHANGE_REASON_EX_OFFICIO_REMOVAL,
    }
)
# What each limited reason may change (record field paths); everything else must stay.
_NAME = (
    "name_kanji",
    "name_kana",
    "name_gaiji_count",
    "name_gaiji_change_seq",
    "former_surname",
    "gaiji_flag",
)
_ADDRESS = (
    "address.text",
    "oaza_code",
    "address_gaiji_count",
    "address_gaiji_change_seq",
    "gaiji_flag",
)
MAY_CHANGE: dict[int, tuple[Reason, tuple[str, ...]]] = {
    R.CHANGE_REASON_MOVE_WITHIN: (Reason.MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS, _ADDRESS),
    R.CHANGE_REASON_NAME_CHANGE: (Reason.NAME_CHANGE_CHANGES_MORE_THAN_NAME, _NAME),
    R.CHANGE_REASON_MY_NUMBER_CHANGE: (Reason.MY_NUMBER_CHANGE_CHANGES_MORE, ("my_number",)),
    R.CHANGE_REASON_CODE_CHANGE: (Reason.CODE_CHANGE_CHANGES_MORE, ("juminhyo_code",)),
    # A removal records the person as they were.
    **{reason: (Reason.REMOVAL_CHANGES_THE_RECORD, ()) for reason in REMOVING},
}
_COMPARED = (
    "juminhyo_code",
    "my_number",
    "birth_date",
    "sex",
    "address.municipality_code",
    *_NAME,
    *_ADDRESS,
)
# 職権修正 may correct anything but the code.
MAY_CHANGE[R.CHANGE_REASON_EX_OFFICIO_CORRECTION] = (
    Reason.CORRECTION_CHANGES_THE_CODE,
    tuple(p for p in _COMPARED if p != "juminhyo_code"),
)


class Verdict(enum.Enum):
    """What to do with a well-formed change."""

    APPLY = "apply"
    HOLD = "hold"


@dataclass(frozen=True)
class Current:
    """A person's latest state on this node (scope.Kept: who keeps them, whether it is served,
    and for a removed person why and, after a 転出, where to)."""

    sequence_number: int
    removed: bool
    record: common_pb2.ResidentRecord
    keeper: str
    served: bool = True
    removal: int = 0
    moved_to: str = ""

    @classmethod
    def after(
        cls,
        change: common_pb2.Change,
        record: common_pb2.ResidentRecord,
        *,
        removed: bool,
        served: bool,
    ) -> Current:
        """The person's state once `change` stored `record` (removed or not)."""
        return cls(
            change.sequence_number,
            removed,
            record,
            keeper=change.municipality_code,
            served=served,
            removal=change.reason if removed else 0,
            moved_to=change.moved_to_municipality_code if removed else "",
        )


def person_key(change: common_pb2.Change) -> str:
    """The code the change is about: the old code for a code change."""
    if change.reason == R.CHANGE_REASON_CODE_CHANGE:
        return change.previous_juminhyo_code
    return change.record.juminhyo_code


def _value(record: common_pb2.ResidentRecord, path: str) -> object:
    value: object = record
    for part in path.split("."):
        value = getattr(value, part)
    if isinstance(value, common_pb2.FormerSurname):
        return value.SerializeToString(deterministic=True)
    return value


def changed_fields(before: common_pb2.ResidentRecord, after: common_pb2.ResidentRecord) -> set[str]:
    """The compared record fields whose values differ."""
    return {path for path in _COMPARED if _value(before, path) != _value(after, path)}


def _only(changed: Iterable[str], allowed: tuple[str, ...], reason: Reason) -> None:
    extra = set(changed) - set(allowed)
    if extra:
        raise RefusedError(reason, f"this change reason may not change: {', '.join(sorted(extra))}")


def judge(change: common_pb2.Change, current: Current | None) -> Verdict:
    """(1)-(5) of the module docstring; raises RefusedError or returns the verdict."""
    reason, seq = change.reason, change.sequence_number
    if current is None:  # (1)
        if reason not in CREATING:
            raise RefusedError(Reason.UNKNOWN_PERSON)
        if reason == R.CHANGE_REASON_BIRTH and seq != 1:
            raise invalid_field("sequence_number", "must be 1 for a birth")
        return Verdict.APPLY
    if reason == R.CHANGE_REASON_BIRTH:
        raise RefusedError(Reason.BIRTH_FOR_EXISTING_CODE)
    if seq <= current.sequence_number:  # (2)
        raise RefusedError(Reason.STALE_SEQUENCE)
    if seq > current.sequence_number + 1:
        return Verdict.HOLD
    if current.removed:  # (3)
        if reason in (R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_EX_OFFICIO_ENTRY):
            scope.check_take_in(change, current)
            return Verdict.APPLY
        raise removed_person(removing=reason in REMOVING)
    if reason == R.CHANGE_REASON_MOVE_IN:  # (4)
        raise RefusedError(Reason.MOVE_IN_FOR_CURRENT_RESIDENT)
    if reason == R.CHANGE_REASON_EX_OFFICIO_ENTRY:
        raise RefusedError(Reason.ENTRY_FOR_CURRENT_RESIDENT)
    scope.check_keeper(change.municipality_code, current.keeper, Reason.NOT_RESIDENT_HERE)
    if reason in MAY_CHANGE:  # (5)
        code, allowed = MAY_CHANGE[reason]
        _only(changed_fields(current.record, change.record), allowed, code)
    return Verdict.APPLY


def removes(change: common_pb2.Change) -> bool:
    """True if the change leaves the person removed (除票) under its record's code."""
    return change.reason in REMOVING


def removed_person(*, removing: bool, message: str | None = None) -> RefusedError:
    """(3) of both files: removing a removed person again, or (`message`) changing one."""
    if removing:
        return RefusedError(Reason.REMOVAL_OF_REMOVED_PERSON)
    return RefusedError(Reason.CHANGE_FOR_REMOVED_PERSON, message)


def check_new_code_unused(taken: object | None) -> None:
    """(6) of both files: a code change's new code must be no one's yet (`taken` is its holder)."""
    if taken is not None:
        raise RefusedError(Reason.CODE_ALREADY_IN_USE)


class ResidentView(Protocol):
    """What `decide` reads of the stored records: the database, or a batch being planned.

    decides_alone: this node has no tier above (scope.served_when_stored).
    """

    decides_alone: bool

    def current(self, code: str) -> Current | None:
        """The person's latest state under `code`, or None if never on file here."""
        ...

    def my_number_held_by_another(self, my_number: str, person: frozenset[str]) -> bool:
        """True if a current resident other than `person` (their codes) holds `my_number`."""
        ...

    def has_waiting(self, code: str) -> bool:
        """True if changes of the person under `code` are held back, waiting for an earlier one."""
        ...


@dataclass(frozen=True)
class Apply:
    """Apply the change: store these versions, in order.

    versions: (record, removed, served) triples; a code change first stores
    the old code's record removed, then the new one; served: the version may
    be answered at once (scope.served_when_stored). before: the person's
    state before (None for a new person). releases_held: changes of the
    person wait for this one and are to be taken after it
    (`ResidentView.has_waiting`).
    """

    versions: tuple[tuple[common_pb2.ResidentRecord, bool, bool], ...]
    before: Current | None
    releases_held: bool


class Hold:
    """Hold the change back until the person's earlier change arrives."""


HOLD = Hold()


def decide(change: common_pb2.Change, view: ResidentView, today: dt.date) -> Apply | Hold:
    """The whole decision on one resident change; RefusedError if it must be refused.

    (0) the change's own fields, (1)-(5) `judge`, (6) other persons' codes
    and My Numbers; the verdict says what to write.
    """
    validation.check_change(change, today)  # (0)
    key = person_key(change)
    before = view.current(key)
    if judge(change, before) is Verdict.HOLD:  # (1)-(5)
        return HOLD
    code = change.record.juminhyo_code
    is_code_change = change.reason == R.CHANGE_REASON_CODE_CHANGE
    if is_code_change:  # (6)
        check_new_code_unused(view.current(code))
    removed = removes(change)
    if not removed and view.my_number_held_by_another(
        change.record.my_number, frozenset({key, code})
    ):
        raise RefusedError(Reason.MY_NUMBER_IN_USE)
    served = scope.served_when_stored(
        decides_alone=view.decides_alone,
        served_before=None if before is None else before.served,
        new_code=is_code_change,
    )
    versions = [(change.record, removed, served)]
    if is_code_change and before is not None:
        versions.insert(0, (before.record, True, before.served))
    return Apply(tuple(versions), before, releases_held=view.has_waiting(code))
