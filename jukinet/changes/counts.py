"""What a node holds, counted for its status (NodeAdminService): numbers only, no personal data."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.storage.schema import fuhyo_current, held_changes, received_changes, resident_current


def resident_count(conn: Connection) -> int:
    """Persons who are current residents according to this node."""
    return int(
        conn.execute(select(func.count()).where(resident_current.c.removed.is_(False))).scalar_one()
    )


def applied_count(conn: Connection) -> int:
    """Changes applied on this node."""
    return int(
        conn.execute(
            select(func.count()).where(
                received_changes.c.outcome == common_pb2.CHANGE_OUTCOME_APPLIED
            )
        ).scalar_one()
    )


def held_count(conn: Connection) -> int:
    """Changes waiting for an earlier change of the same person."""
    return int(conn.execute(select(func.count()).select_from(held_changes)).scalar_one())


def fuhyo_count(conn: Connection) -> int:
    """Persons on this node's fuhyo file (emigrants included, removed persons not)."""
    return int(
        conn.execute(
            select(func.count()).where(fuhyo_current.c.status != fuhyo_pb.FUHYO_STATUS_REMOVED)
        ).scalar_one()
    )
