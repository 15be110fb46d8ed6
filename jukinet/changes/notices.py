"""Notices of changes refused above (誤りの通報): kept for the municipality that entered the change
until it acknowledges them.

At a prefecture or fuhyo server a notice waits for the CS of that municipality, which takes it
(ChangeNoticeService; runtime/notice_taker.py), marks its own copy of the change refused and
acknowledges it. At a CS it waits for the register system (`juki-net notices`). A notice holds
no record: the change id, the file, the municipality, the reason and who refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Connection, insert, select, update

from juki.v1 import change_notice_service_pb2 as pb
from jukinet.storage import as_utc, bulk
from jukinet.storage.schema import change_notices

MAX_PAGE = 500
DEFAULT_PAGE = 100


def record(
    conn: Connection,
    *,
    change_id: str,
    file: pb.NoticedFile.ValueType,
    municipality: str,
    reason: str,
    refused_by: str,
    at: dt.datetime,
) -> bool:
    """Keep a notice in the caller's transaction; False if this refusal was noticed already."""
    known = conn.execute(
        select(change_notices.c.id).where(
            change_notices.c.change_id == change_id, change_notices.c.refused_by == refused_by
        )
    ).first()
    if known is not None:
        return False
    conn.execute(
        insert(change_notices),
        {
            "change_id": change_id,
            "file": file,
            "municipality_code": municipality,
            "reason": reason,
            "refused_by": refused_by,
            "noticed_at": at,
        },
    )
    return True


def unacknowledged(conn: Connection, municipality: str, limit: int) -> list[pb.ChangeNotice]:
    """The municipality's notices not acknowledged yet, oldest first, at most `limit`."""
    rows = conn.execute(
        select(change_notices)
        .where(
            change_notices.c.municipality_code == municipality,
            change_notices.c.acknowledged_at.is_(None),
        )
        .order_by(change_notices.c.id)
        .limit(limit)
    )
    notices = []
    for row in rows:
        noticed_at = Timestamp()
        noticed_at.FromDatetime(as_utc(row.noticed_at))
        notices.append(
            pb.ChangeNotice(
                notice_id=row.id,
                change_id=row.change_id,
                file=row.file,
                municipality_code=row.municipality_code,
                reason=row.reason,
                refused_by=row.refused_by,
                noticed_at=noticed_at,
            )
        )
    return notices


def acknowledge(
    conn: Connection, municipality: str, ids: Sequence[int], by: str, at: dt.datetime
) -> int:
    """Mark the municipality's notices `ids` acknowledged; how many were waiting."""
    if not ids:
        return 0
    done = conn.execute(
        update(change_notices)
        .where(
            bulk.one_of(conn, change_notices.c.id, ids),
            change_notices.c.municipality_code == municipality,
            change_notices.c.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=at, acknowledged_by=by)
    )
    return int(done.rowcount)
