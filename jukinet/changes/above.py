"""What the tier above decided about the changes this node sent it, taken in the transaction
that records its answer (outbox.Deliverer, `Hop.settle`) or a notice of it (notice_taker):

- taken (APPLIED, DUPLICATE): what awaited it here (records/scope.py: a person this node did
  not know, a new 住民票コード) is served from now on (`confirm`);
- held back (HELD): the change's versions here are not answered until it is taken (`hold`);
- refused (REJECTED), 誤りの通報 (`refuse`): the change's versions here are REFUSED — history
  keeps them with the reason, the person's current state goes back to what it was before —,
  its decision here reads REJECTED with who refused it (a re-delivery from below is answered
  so), the refusal is in the audit log, and a notice waits for the municipality that entered
  the change (notices.py): at a prefecture or fuhyo server for its CS, at a CS for its
  register system. No tier keeps answering with what a tier above refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import message as protobuf_message
from sqlalchemy import Connection, Table, select, update

from juki.v1 import change_notice_service_pb2 as notice_pb
from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes import notices, outbox, versions
from jukinet.changes.ledger import Vault
from jukinet.core.clock import Clock
from jukinet.core.errors import Reason
from jukinet.records import fuhyo, lifecycle, residents
from jukinet.storage import bulk
from jukinet.storage.outbox_state import state_is
from jukinet.storage.schema import (
    fuhyo_current,
    fuhyo_versions,
    received_changes,
    resident_current,
    resident_versions,
)
from jukinet.storage.version_state import VersionState
from jukinet.trust.audit import AuditLog

_TAKEN = frozenset({common_pb2.CHANGE_OUTCOME_APPLIED, common_pb2.CHANGE_OUTCOME_DUPLICATE})


def _resident_codes(change: common_pb2.Change) -> set[str]:
    return {lifecycle.person_key(change), change.record.juminhyo_code}


def _fuhyo_codes(change: fuhyo_pb.FuhyoChange) -> set[str]:
    codes = {change.record.juminhyo_code}
    if change.record.notice_kind == fuhyo_pb.FUHYO_NOTICE_KIND_CODE_CHANGE:
        codes.add(change.record.former_juminhyo_code)
    return codes


@dataclass(frozen=True)
class File:
    """One record file as this module touches it: its tables, its change message, the codes a
    change of it writes versions under, and its name in a notice."""

    versions: Table
    current: Table
    index_row: Callable[[dict[str, Any], int], dict[str, Any]]
    change_type: type[protobuf_message.Message]
    codes: Callable[[Any], set[str]]
    noticed: notice_pb.NoticedFile.ValueType


RESIDENTS = File(
    resident_versions,
    resident_current,
    residents.index_row,
    common_pb2.Change,
    _resident_codes,
    notice_pb.NOTICED_FILE_RESIDENT,
)
FUHYO = File(
    fuhyo_versions,
    fuhyo_current,
    fuhyo.index_row,
    fuhyo_pb.FuhyoChange,
    _fuhyo_codes,
    notice_pb.NOTICED_FILE_FUHYO,
)


def confirm(conn: Connection, file: File, change_ids: Sequence[str]) -> None:
    """Taken above: the versions of these changes that awaited it are served (one indexed read
    of the awaiting ones; nothing more where none awaited)."""
    v = file.versions
    waited = conn.execute(
        select(v.c.id, v.c.juminhyo_code).where(
            state_is(v.c.state, VersionState.AWAITING),
            bulk.one_of(conn, v.c.change_id, change_ids),
        )
    ).all()
    _mark(conn, file, waited, served=True)


def _mark(conn: Connection, file: File, rows: Sequence[Any], *, served: bool) -> None:
    """Mark these versions (id, juminhyo_code rows) served or awaiting, and the index rows
    pointing at them alike."""
    if not rows:
        return
    ids = [row.id for row in rows]
    v, current = file.versions, file.current
    state = VersionState.SERVED if served else VersionState.AWAITING
    conn.execute(update(v).where(bulk.one_of(conn, v.c.id, ids)).values(state=state))
    conn.execute(
        update(current)
        .where(
            bulk.one_of(conn, current.c.juminhyo_code, {row.juminhyo_code for row in rows}),
            bulk.one_of(conn, current.c.version_id, ids),
        )
        .values(served=served)
    )


def _versions_of(conn: Connection, file: File, change: Any) -> list[Any]:
    v = file.versions
    return list(
        conn.execute(
            select(v.c.id, v.c.juminhyo_code).where(
                v.c.juminhyo_code.in_(file.codes(change)),
                v.c.change_id == change.change_id,
                v.c.state != VersionState.REFUSED,
            )
        ).all()
    )


def hold(conn: Connection, file: File, change: Any) -> None:
    """Held back above: the change's versions here are not answered until it is taken."""
    _mark(conn, file, _versions_of(conn, file, change), served=False)


def refuse(
    conn: Connection,
    file: File,
    change: Any,
    *,
    reason: str,
    refused_by: str,
    action: str,
    audit: AuditLog,
    at: dt.datetime,
) -> bool:
    """Refused above (the module docstring); False if this refusal was taken already."""
    if not notices.record(
        conn,
        change_id=change.change_id,
        file=file.noticed,
        municipality=change.municipality_code,
        reason=reason,
        refused_by=refused_by,
        at=at,
    ):
        return False
    v = file.versions
    conn.execute(
        update(v)
        .where(
            v.c.juminhyo_code.in_(file.codes(change)),
            v.c.change_id == change.change_id,
            v.c.state != VersionState.REFUSED,
        )
        .values(state=VersionState.REFUSED, refusal_reason=reason)
    )
    for code in file.codes(change):
        versions.repoint_index(conn, v, file.current, file.index_row, code)
    conn.execute(
        update(received_changes)
        .where(received_changes.c.change_id == change.change_id)
        .values(outcome=common_pb2.CHANGE_OUTCOME_REJECTED, reason=reason, refused_by=refused_by)
    )
    audit.append_in(conn, actor=refused_by, action=action, outcome="refused", reason=reason)
    return True


def settler(
    file: File, *, vault: Vault, peer: str, action: str, audit: AuditLog, clock: Clock
) -> outbox.Settle:
    """The `Hop.settle` of a hop delivering changes of `file` to `peer` by the method `action`."""

    def settle(
        conn: Connection, answered: Sequence[tuple[outbox.Pending, common_pb2.ChangeResult]]
    ) -> None:
        taken = [entry.change_id for entry, answer in answered if answer.outcome in _TAKEN]
        if taken:
            confirm(conn, file, taken)
        for entry, answer in answered:
            if answer.outcome in _TAKEN:
                continue
            change = vault.open_at_rest(entry.payload, file.change_type)
            if answer.outcome == common_pb2.CHANGE_OUTCOME_HELD:
                hold(conn, file, change)
            else:
                refuse(
                    conn,
                    file,
                    change,
                    reason=Reason.known(answer.reason),
                    refused_by=peer,
                    action=action,
                    audit=audit,
                    at=clock.now(),
                )

    return settle
