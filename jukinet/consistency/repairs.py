"""The repair changes a node sends the tier above (taken there by changes/repairs.py).

A repair re-sends this node's own latest version of the person from the municipality, as
stored, under a change id derived from the run, the person and the repair (uuid5), so the
same repair queued twice is still taken once. It travels through the outbox like any change:
sealed at rest, delivered in order, traced, exactly once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection

from juki.v1 import common_pb2
from juki.v1 import consistency_service_pb2 as pb
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.changes import outbox
from jukinet.changes.ledger import Vault
from jukinet.consistency.leaves import FILES, latest_versions
from jukinet.records import fuhyo, residents
from jukinet.storage.schema import fuhyo_versions, resident_versions

_NAMESPACE = uuid.UUID("5f0c3a52-6a0e-4c8b-9c1e-2f7d8b1a9e40")


def repair_id(run_id: str, code: str, step: str) -> str:
    """The change id of the repair of `code` in run `run_id` at `step` ("run" or "approved")."""
    return str(uuid.uuid5(_NAMESPACE, f"{run_id}/{code}/{step}"))


def change_of(row: Any, change_id: str) -> common_pb2.Change:
    """A stored resident version as the change that would bring it, under `change_id`."""
    return common_pb2.Change(
        change_id=change_id,
        reason=row.change_reason,
        change_date=row.change_date,
        municipality_code=row.municipality_code,
        record=residents.record_of(row),
        sequence_number=row.sequence_number,
        notified_date=row.notified_date,
        operator_id=row.operator_id,
        terminal_id=row.terminal_id,
        previous_juminhyo_code=row.previous_juminhyo_code,
        moved_to_municipality_code=row.moved_to_municipality_code,
    )


def _resident(row: Any, change_id: str, repair: common_pb2.Repair) -> common_pb2.Change:
    change = change_of(row, change_id)
    change.repair.CopyFrom(repair)
    change.repair.removed = bool(row.deleted)
    return change


def _fuhyo(row: Any, change_id: str, repair: common_pb2.Repair) -> fuhyo_pb.FuhyoChange:
    return fuhyo_pb.FuhyoChange(
        change_id=change_id,
        municipality_code=row.municipality_code,
        record=fuhyo.record_of(row),
        repair=repair,
    )


def repair_change(
    conn: Connection,
    file: int,
    municipality: str,
    code: str,
    repair: common_pb2.Repair,
    change_id: str,
) -> common_pb2.Change | fuhyo_pb.FuhyoChange:
    """The repair of one person: this node's latest version from `municipality`, or for a
    withdrawal the person's code alone. `repair` says its kind and, for one an operator
    approved, the approval (run, approver, who ran the check) the tier above checks."""
    kind = repair.kind
    resident = file == pb.RECORD_FILE_RESIDENT
    if kind == common_pb2.REPAIR_KIND_WITHDRAW:
        if resident:
            return common_pb2.Change(
                change_id=change_id,
                municipality_code=municipality,
                record=common_pb2.ResidentRecord(juminhyo_code=code),
                repair=repair,
            )
        return fuhyo_pb.FuhyoChange(
            change_id=change_id,
            municipality_code=municipality,
            record=fuhyo_pb.FuhyoRecord(juminhyo_code=code),
            repair=repair,
        )
    spec = FILES[file]
    versions = resident_versions if resident else fuhyo_versions
    # Whole rows: the record needs every column, the bookkeeping ones too.
    query = latest_versions(spec, municipality, [code]).with_only_columns(*versions.columns)
    row = conn.execute(query).one()
    return _resident(row, change_id, repair) if resident else _fuhyo(row, change_id, repair)


def queue_repair(
    conn: Connection,
    vault: Vault,
    change: common_pb2.Change | fuhyo_pb.FuhyoChange,
    *,
    destination: str,
    now: dt.datetime,
) -> None:
    """Queue a repair for the tier above, sealed at rest like every outbox entry."""
    outbox.enqueue(
        conn, [(change.change_id, vault.seal_at_rest(change))], destination=destination, now=now
    )
