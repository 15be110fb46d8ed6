"""Retention: what the law lets a node keep, and the job that purges the rest.

- History (superseded versions of a record) and removed persons (除票): 150
  years (住民基本台帳法施行令 第34条, as amended in 2019) after they were
  superseded or removed.
- Provision-log entries: 7 years.
- Outbox rows delivered or rejected: 90 days (they back GetChangeStatus only).
- Consistency runs and the persons they found different: 90 days (they back approvals and
  GetNodeStatus only).

`purge(conn, now)` takes the clock as an argument so tests can move it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, exists, select
from sqlalchemy.orm import aliased

from jukinet.changes import outbox as outbox_states
from jukinet.provision.log import RETENTION_YEARS
from jukinet.storage.schema import (
    consistency_differences,
    consistency_runs,
    outbox,
    provision_log,
    resident_current,
    resident_versions,
)

HISTORY_YEARS = 150
OUTBOX_DAYS = 90


def years_before(now: dt.datetime, years: int) -> dt.datetime:
    """The same calendar moment `years` earlier (29 February becomes 28 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


@dataclass(frozen=True)
class Purged:
    """How many rows one purge removed."""

    versions: int
    persons: int
    provisions: int
    outbox_rows: int
    consistency_runs: int = 0


def purge(conn: Connection, now: dt.datetime) -> Purged:
    """Delete everything past its retention period, as of `now`, in the caller's transaction."""
    history_cutoff = years_before(now, HISTORY_YEARS)
    # Removed persons whose removal is older than the cutoff: every version and the index row.
    removed = (
        select(resident_current.c.juminhyo_code)
        .join(resident_versions, resident_versions.c.id == resident_current.c.version_id)
        .where(resident_current.c.removed.is_(True))
        .where(resident_versions.c.recorded_at < history_cutoff)
    )
    codes = [row.juminhyo_code for row in conn.execute(removed)]
    persons = 0
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        conn.execute(delete(resident_versions).where(resident_versions.c.juminhyo_code.in_(chunk)))
        persons += conn.execute(
            delete(resident_current).where(resident_current.c.juminhyo_code.in_(chunk))
        ).rowcount
    # Versions superseded (by a newer version of the same person) before the cutoff.
    newer = aliased(resident_versions)
    versions = conn.execute(
        delete(resident_versions).where(
            exists().where(
                and_(
                    newer.c.juminhyo_code == resident_versions.c.juminhyo_code,
                    newer.c.version > resident_versions.c.version,
                    newer.c.recorded_at < history_cutoff,
                )
            )
        )
    ).rowcount
    provisions = conn.execute(
        delete(provision_log).where(provision_log.c.at < years_before(now, RETENTION_YEARS))
    ).rowcount
    outbox_rows = conn.execute(
        delete(outbox).where(
            outbox.c.state.in_(
                [outbox_states.OutboxState.DELIVERED, outbox_states.OutboxState.REJECTED]
            ),
            outbox.c.finished_at < now - dt.timedelta(days=OUTBOX_DAYS),
        )
    ).rowcount
    old_runs = select(consistency_runs.c.run_id).where(
        consistency_runs.c.finished_at < now - dt.timedelta(days=OUTBOX_DAYS)
    )
    conn.execute(
        delete(consistency_differences).where(consistency_differences.c.run_id.in_(old_runs))
    )
    runs = conn.execute(
        delete(consistency_runs).where(consistency_runs.c.run_id.in_(old_runs))
    ).rowcount
    return Purged(versions, persons, provisions, outbox_rows, runs)
