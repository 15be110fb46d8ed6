"""How both record files are stored: versions only inserted, one index row per person pointing at
the latest (the resident file here and through ledger.py, the fuhyo file through
fuhyo_ledger.py), and the index pointed back when a version leaves the current state (a
withdrawal, a refusal from above: changes/repairs.py, changes/above.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.sql.dml import Update

from juki.v1 import common_pb2
from jukinet.records import residents
from jukinet.storage.schema import resident_current, resident_versions
from jukinet.storage.version_state import VersionState


@functools.cache
def point_index(current: Table) -> Update:
    """The update of one person's index row (parameter `person`), built once."""
    return update(current).where(current.c.juminhyo_code == bindparam("person"))


@functools.cache
def _latest_version(versions: Table) -> Select[Any]:
    """A person's latest version number (parameter `person`; 0 if none), built once."""
    return select(func.coalesce(func.max(versions.c.version), 0)).where(
        versions.c.juminhyo_code == bindparam("person")
    )


def store_version(
    conn: Connection,
    versions: Table,
    current: Table,
    code: str,
    values_for: Callable[[int], dict[str, Any]],
    index_row: Callable[[dict[str, Any], int], dict[str, Any]],
    *,
    move_index: bool = True,
) -> None:
    """Insert the person's next version (`values_for(number)`) and point the index row at it
    (unless not `move_index`: a repaired old version that is history here).

    How both files are kept (the resident file here, the fuhyo file in
    fuhyo_ledger.py): versions are only inserted, one index row per person
    (`index_row(values, version_id)`) is updated or created.
    """
    latest = conn.execute(_latest_version(versions), {"person": code}).scalar_one()
    values = values_for(int(latest) + 1)
    # Values go in as parameters, not .values(...): the statement is then the same every time
    # and SQLAlchemy compiles it once (bench P1: the per-call .values() was most of the cost).
    key = conn.execute(insert(versions), values).inserted_primary_key
    assert key is not None
    if not move_index:
        return
    state = index_row(values, key[0])
    updated = conn.execute(point_index(current), {**state, "person": code}).rowcount
    if not updated:
        conn.execute(insert(current), {"juminhyo_code": code, **state})


def repoint_index(
    conn: Connection,
    versions: Table,
    current: Table,
    index_row: Callable[[dict[str, Any], int], dict[str, Any]],
    code: str,
) -> None:
    """Point the person's index row at their latest version not refused above (served as that
    version is), or drop it if none is left: after a withdrawal, or a refusal from above."""
    left = conn.execute(
        select(versions)
        .where(versions.c.juminhyo_code == code, versions.c.state != VersionState.REFUSED)
        .order_by(versions.c.version.desc())
        .limit(1)
    ).first()
    if left is None:
        conn.execute(delete(current).where(current.c.juminhyo_code == code))
        return
    state = index_row(dict(left._mapping), left.id)
    updated = conn.execute(point_index(current), {**state, "person": code}).rowcount
    if not updated:
        conn.execute(insert(current), {"juminhyo_code": code, **state})


def store_resident_version(
    conn: Connection,
    change: common_pb2.Change,
    record: common_pb2.ResidentRecord,
    *,
    removed: bool,
    now: dt.datetime,
    served: bool,
    move_index: bool = True,
) -> None:
    """Insert a version of `record` as changed by `change` (served at once or awaiting the tier
    above) and point the index at it."""
    store_version(
        conn,
        resident_versions,
        resident_current,
        record.juminhyo_code,
        lambda version: residents.version_values(
            change, record, version=version, removed=removed, recorded_at=now, served=served
        ),
        residents.index_row,
        move_index=move_index,
    )
