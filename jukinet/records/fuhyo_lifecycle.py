"""The notice kinds of a fuhyo (附票) change and the checks each must pass.

`decide(change, view, today)` is the whole decision on one fuhyo change, the
one path every node takes it through (changes/fuhyo_ledger.py): the change's
own fields (validation.check_fuhyo_change), then against the person's fuhyo:

1. (1) a code change: the new code must be unused (CODE_ALREADY_IN_USE); it
   is judged against the fuhyo of the former code;
2. (2) an entry: the person must not be on file (ENTRY_FOR_PERSON_ON_FILE),
   unless their fuhyo was removed;
3. (3) anything else: the person must be on file (PERSON_NOT_ON_FILE) and
   not removed (REMOVAL_OF_REMOVED_PERSON, CHANGE_FOR_REMOVED_PERSON), and
   the fuhyo kept by the municipality sending it (KEPT_BY_ANOTHER_MUNICIPALITY);
4. (4) an emigration: not twice (ALREADY_EMIGRATED), and changing only the
   address items (EMIGRATION_CHANGES_MORE_THAN_ADDRESS); a return only for
   an emigrant (NOT_EMIGRATED); a correction may not change the status
   (STATUS_CHANGE_NOT_ALLOWED).

Fuhyo changes carry no sequence number; one person's changes come in order
from one municipality's CS, but a fuhyo moving between municipalities
(転籍) has changes from two. So (0) an entry for a person whose fuhyo is
still kept by another municipality waits (HOLD) for that municipality's
removal, and a later change of the new municipality waits behind it; both
are taken when the person's next change applies (changes/fuhyo_ledger.py).

It reads the file only through a `FuhyoView` and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.core.errors import Reason, RefusedError
from jukinet.records import validation
from jukinet.records.lifecycle import HOLD, Hold, check_new_code_unused, removed_person

K = fuhyo_pb.FuhyoNoticeKind
REMOVED = fuhyo_pb.FUHYO_STATUS_REMOVED
EMIGRATED = fuhyo_pb.FUHYO_STATUS_EMIGRATED
# What an emigration may not change.
_IDENTITY = ("name_kanji", "name_kana", "birth_date", "sex")


class FuhyoView(Protocol):
    """What `decide` reads of the fuhyo file."""

    def current(self, code: str) -> Any | None:
        """The person's latest fuhyo version row under `code`, or None if never on file."""
        ...

    def has_waiting(self, code: str) -> bool:
        """True if fuhyo changes of the person under `code` are held back."""
        ...


@dataclass(frozen=True)
class Apply:
    """Apply the change over the person's current fuhyo row (None for a first entry)."""

    now: Any | None


def decide(change: fuhyo_pb.FuhyoChange, view: FuhyoView, today: dt.date) -> Apply | Hold:
    """Apply (over the current row) or hold the change; RefusedError for the module
    docstring's checks."""
    validation.check_fuhyo_change(change, today)
    record = change.record
    kind = record.notice_kind
    if kind == K.FUHYO_NOTICE_KIND_CODE_CHANGE:  # (1)
        check_new_code_unused(view.current(record.juminhyo_code))
        now = view.current(record.former_juminhyo_code)
    else:
        now = view.current(record.juminhyo_code)
    kept_elsewhere = (
        now is not None
        and now.status != REMOVED
        and now.keeping_municipality_code != change.municipality_code
    )
    if kind == K.FUHYO_NOTICE_KIND_ENTRY:  # (2)
        if kept_elsewhere:  # (0): the keeping municipality's removal has not come yet
            return HOLD
        if now is not None and now.status != REMOVED:
            raise RefusedError(Reason.ENTRY_FOR_PERSON_ON_FILE)
        return Apply(now)
    if kept_elsewhere and view.has_waiting(record.juminhyo_code):
        return HOLD  # (0): behind this municipality's held entry
    if now is None:  # (3)
        raise RefusedError(Reason.PERSON_NOT_ON_FILE)
    if now.status == REMOVED:
        raise removed_person(
            removing=kind == K.FUHYO_NOTICE_KIND_REMOVAL, message="the person's fuhyo is removed"
        )
    if now.keeping_municipality_code != change.municipality_code:
        raise RefusedError(Reason.KEPT_BY_ANOTHER_MUNICIPALITY)
    if kind == K.FUHYO_NOTICE_KIND_EMIGRATION:  # (4)
        if now.status == EMIGRATED:
            raise RefusedError(Reason.ALREADY_EMIGRATED)
        if any(getattr(record, name) != getattr(now, name) for name in _IDENTITY):
            raise RefusedError(Reason.EMIGRATION_CHANGES_MORE_THAN_ADDRESS)
    if kind == K.FUHYO_NOTICE_KIND_RETURN and now.status != EMIGRATED:
        raise RefusedError(Reason.NOT_EMIGRATED)
    if kind == K.FUHYO_NOTICE_KIND_CORRECTION and record.status != now.status:
        raise RefusedError(Reason.STATUS_CHANGE_NOT_ALLOWED)
    return Apply(now)
