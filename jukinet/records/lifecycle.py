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
3. (3) removed persons (除票): only 転入 or 職権記載 bring them back; removing
   them again is refused (REMOVAL_OF_REMOVED_PERSON), anything else too
   (CHANGE_FOR_REMOVED_PERSON);
4. (4) current residents: a move-in (MOVE_IN_FOR_CURRENT_RESIDENT) or an
   entry (ENTRY_FOR_CURRENT_RESIDENT) is refused; the change must come from
   the municipality the person lives in (NOT_RESIDENT_HERE);
5. (5) what each reason may change: 転居 the address only, 氏名変更 the name
   only, 個人番号変更 the My Number only, 住民票コード変更 the code only,
   職権修正 anything but the code, a removal nothing (it records the person
   as they were).

Checks needing other persons' records (a new code or My Number already in
use) are made by ledger.py, which applies the verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

from juki.v1 import common_pb2
from jukinet.core.errors import RefusedError, invalid_field

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
MAY_CHANGE: dict[int, tuple[str, tuple[str, ...]]] = {
    R.CHANGE_REASON_MOVE_WITHIN: ("MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS", _ADDRESS),
    R.CHANGE_REASON_NAME_CHANGE: ("NAME_CHANGE_CHANGES_MORE_THAN_NAME", _NAME),
    R.CHANGE_REASON_MY_NUMBER_CHANGE: ("MY_NUMBER_CHANGE_CHANGES_MORE", ("my_number",)),
    R.CHANGE_REASON_CODE_CHANGE: ("CODE_CHANGE_CHANGES_MORE", ("juminhyo_code",)),
    # A removal records the person as they were.
    **{reason: ("REMOVAL_CHANGES_THE_RECORD", ()) for reason in REMOVING},
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
    "CORRECTION_CHANGES_THE_CODE",
    tuple(p for p in _COMPARED if p != "juminhyo_code"),
)


class Verdict(enum.Enum):
    """What to do with a well-formed change."""

    APPLY = "apply"
    HOLD = "hold"


@dataclass(frozen=True)
class Current:
    """A person's latest state on this node."""

    sequence_number: int
    removed: bool
    record: common_pb2.ResidentRecord


def refused(reason: str, message: str) -> RefusedError:
    """A change contradicting the stored records (FAILED_PRECONDITION)."""
    return RefusedError(grpc.StatusCode.FAILED_PRECONDITION, reason, message)


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


def _only(changed: Iterable[str], allowed: tuple[str, ...], reason: str) -> None:
    extra = set(changed) - set(allowed)
    if extra:
        raise refused(reason, f"this change reason may not change: {', '.join(sorted(extra))}")


def judge(change: common_pb2.Change, current: Current | None) -> Verdict:
    """(1)-(5) of the module docstring; raises RefusedError or returns the verdict."""
    reason, seq = change.reason, change.sequence_number
    if current is None:  # (1)
        if reason not in CREATING:
            raise refused("UNKNOWN_PERSON", "no record of this person on this node")
        if reason == R.CHANGE_REASON_BIRTH and seq != 1:
            raise invalid_field("sequence_number", "must be 1 for a birth")
        return Verdict.APPLY
    if reason == R.CHANGE_REASON_BIRTH:
        raise refused("BIRTH_FOR_EXISTING_CODE", "a birth must name a new resident record code")
    if seq <= current.sequence_number:  # (2)
        raise refused("STALE_SEQUENCE", "a later change of this person is already applied")
    if seq > current.sequence_number + 1:
        return Verdict.HOLD
    if current.removed:  # (3)
        if reason in (R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_EX_OFFICIO_ENTRY):
            return Verdict.APPLY
        if reason in REMOVING:
            raise refused("REMOVAL_OF_REMOVED_PERSON", "the person is already removed")
        raise refused(
            "CHANGE_FOR_REMOVED_PERSON", "the person is removed; only a move-in or entry applies"
        )
    if reason == R.CHANGE_REASON_MOVE_IN:  # (4)
        raise refused("MOVE_IN_FOR_CURRENT_RESIDENT", "the person is a current resident")
    if reason == R.CHANGE_REASON_EX_OFFICIO_ENTRY:
        raise refused("ENTRY_FOR_CURRENT_RESIDENT", "the person is a current resident")
    if change.municipality_code != current.record.address.municipality_code:
        raise refused("NOT_RESIDENT_HERE", "the person is a resident of another municipality")
    if reason in MAY_CHANGE:  # (5)
        code, allowed = MAY_CHANGE[reason]
        _only(changed_fields(current.record, change.record), allowed, code)
    return Verdict.APPLY


def removes(change: common_pb2.Change) -> bool:
    """True if the change leaves the person removed (除票) under its record's code."""
    return change.reason in REMOVING
