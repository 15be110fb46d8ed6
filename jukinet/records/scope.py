"""Who may change whom: a municipality acts only on the persons it keeps.

One rule, checked by every tier that receives a change or a repair (the CS, prefecture and
fuhyo servers, the national server), whatever path writes it: a change one by one or in a
planned batch (lifecycle.decide), a consistency repair (changes/repairs.py). Seed 003: only the
municipality's CS supplies a person's updates, and the prefecture checks them again
(論理チェック). A change entered by municipality M is in scope at a tier when the person is

(a) unknown at the tier: new to the network as far as this tier can see. It is taken, but a
    tier with a tier above serves it as current only once that tier has taken it too
    (`served_when_stored`; changes/above.py). Only the national server sees every person, so
    only there is "new to the network" decided;
(b) kept by M: the tier's current version of the person came from M (`check_keeper`;
    lifecycle.judge (4) for an ordinary change of a current resident);
(c) removed, and M may take them in (`check_take_in`, the table `MAY_TAKE_IN`): by 転入 only
    at the municipality a recorded 転出 named, or anywhere after an emigration or an ex-officio
    removal; by 職権記載 also at the municipality that removed them.

Anything else is refused, and the tier below learns of it (誤りの通報, changes/notices.py).

A version this rule would refuse may still sit in a tier's history, written before the rule
existed or by hand. `out_of_scope` reads the history as the rule would have, so the person's
rightful keeper can repair it (changes/repairs.py); where the history cannot tell (a 転出
recorded before its destination was), it decides nothing and the repair is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from juki.v1 import common_pb2
from jukinet.core.errors import Reason, RefusedError

R = common_pb2


class Removed(Protocol):
    """What (c) reads of a removed person's current state on this tier (lifecycle.Current)."""

    @property
    def keeper(self) -> str:
        """The municipality whose change (or repair) this tier's current version came from."""
        ...

    @property
    def removal(self) -> int:
        """For a removed person: the change reason that removed them."""
        ...

    @property
    def moved_to(self) -> str:
        """For a person removed by 転出: the municipality it named."""
        ...


class Taker(enum.Enum):
    """Which municipality may take in a removed person."""

    ANY = "any municipality"
    MOVED_TO = "the municipality the 転出 named"
    REMOVER = "the municipality that removed them"


# (how they are taken in, why they were removed) -> who may take them in; not listed: nobody.
# A death is undone only by the municipality that recorded it (職権記載 after a death recorded
# in error); the old code of a 住民票コード change is never taken in again.
MAY_TAKE_IN: dict[tuple[int, int], frozenset[Taker]] = {
    (R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_MOVE_OUT): frozenset({Taker.MOVED_TO}),
    (R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_EMIGRATION): frozenset({Taker.ANY}),
    (R.CHANGE_REASON_MOVE_IN, R.CHANGE_REASON_EX_OFFICIO_REMOVAL): frozenset({Taker.ANY}),
    (R.CHANGE_REASON_EX_OFFICIO_ENTRY, R.CHANGE_REASON_MOVE_OUT): frozenset(
        {Taker.MOVED_TO, Taker.REMOVER}
    ),
    (R.CHANGE_REASON_EX_OFFICIO_ENTRY, R.CHANGE_REASON_EMIGRATION): frozenset({Taker.ANY}),
    (R.CHANGE_REASON_EX_OFFICIO_ENTRY, R.CHANGE_REASON_EX_OFFICIO_REMOVAL): frozenset({Taker.ANY}),
    (R.CHANGE_REASON_EX_OFFICIO_ENTRY, R.CHANGE_REASON_DEATH): frozenset({Taker.REMOVER}),
}


def _is(taker: Taker, municipality: str, current: Removed) -> bool:
    if taker is Taker.ANY:
        return True
    if taker is Taker.MOVED_TO:
        return current.moved_to == municipality
    return current.keeper == municipality


def _may_take_in(reason: int, municipality: str, current: Removed) -> bool:
    takers = MAY_TAKE_IN.get((reason, current.removal), frozenset())
    return any(_is(taker, municipality, current) for taker in takers)


def check_take_in(change: common_pb2.Change, current: Removed) -> None:
    """(c): may the change's municipality take in (転入, 職権記載) this removed person?"""
    if not _may_take_in(change.reason, change.municipality_code, current):
        raise RefusedError(Reason.TAKE_IN_NOT_ALLOWED)


@dataclass(frozen=True)
class Step:
    """One stored version of a person as this rule reads it (a version row)."""

    keeper: str  # the municipality whose change or repair wrote it
    reason: int  # its change reason
    removed: bool
    moved_to: str = ""  # for a 転出: the municipality it named

    @property
    def removal(self) -> int:
        return self.reason if self.removed else 0


def _admits(before: Step, step: Step) -> bool | None:
    """Whether the rule lets `step` follow `before` (None: the history cannot tell)."""
    if step.keeper == before.keeper:
        return True
    if not before.removed:
        return False
    if before.removal == R.CHANGE_REASON_MOVE_OUT and not before.moved_to:
        return None
    return _may_take_in(step.reason, step.keeper, before)


def out_of_scope(history: Sequence[Step]) -> tuple[str, list[int]] | None:
    """The person's rightful keeper and the positions in `history` (oldest first) of the
    versions the rule would have refused; None where the history cannot tell."""
    if not history:
        return None
    rightful, refused = history[0], []
    for position, step in enumerate(history[1:], start=1):
        admitted = _admits(rightful, step)
        if admitted is None:
            return None
        if admitted:
            rightful = step
        else:
            refused.append(position)
    return rightful.keeper, refused


def check_keeper(municipality: str, keeper: str | None, refusal: Reason) -> None:
    """(b): the person is unknown here (`keeper` None) or kept by `municipality`; else
    `refusal` (NOT_RESIDENT_HERE for a resident, KEPT_BY_ANOTHER_MUNICIPALITY for a fuhyo)."""
    if keeper is not None and keeper != municipality:
        raise RefusedError(refusal)


def served_when_stored(*, decides_alone: bool, served_before: bool | None, new_code: bool) -> bool:
    """(a): whether a version this tier stores may be answered at once.

    decides_alone: this tier has no tier above (the national server). served_before: whether
    the person's current version here is served (None: the person is unknown here).
    Elsewhere a version is served at once only if it continues a person this tier knows and
    serves, and brings no 住民票コード this tier cannot vouch for unused (a code change's new
    one); else it awaits the tier above's answer.
    """
    return decides_alone or (bool(served_before) and not new_code)
