"""Bulk provision approvals: above a threshold, a bulk provision needs an operator's approval.

An operator records an approval for one recipient, one task and at most so
many rows (`record`). The threshold counts an organ's rows per day (in Japan),
not per stream: a bulk stream whose declared rows, with the rows of the streams
the organ opened that day without an approval, exceed it uses one unused
approval that fits its own rows, once (`admit`). So splitting a query file
into streams below the threshold does not avoid the approval. Every stream
admitted is recorded (bulk_streams), with the approval it used, if any.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Connection, func, insert, select, update

from juki.v1 import provision_service_pb2 as pb
from jukinet.core.clock import SYSTEM, Clock, today_in_japan
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, IdentityError
from jukinet.provision.catalogue import PREFECTURE_TABLES, Catalogue, default_catalogue
from jukinet.storage import Database
from jukinet.storage.schema import bulk_approvals, bulk_streams


class BulkApprovals:
    """One node's bulk approvals.

    threshold: bulk provisions of more rows need an approval.
    """

    def __init__(
        self,
        db: Database,
        *,
        threshold: int,
        catalogue: Catalogue | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self._db = db
        self._threshold = threshold
        self._catalogue = catalogue or default_catalogue()
        self._clock = clock

    def admit(self, header: pb.BulkHeader, caller: Identity) -> None:
        """Check a bulk header's row count and, with the day's rows above the threshold, use
        up its approval; record the stream."""
        if header.declared_rows < 1:
            raise invalid_field("header.declared_rows", "must be 1 or more")
        now = self._clock.now()
        day = today_in_japan(self._clock).isoformat()
        with self._db.transaction() as conn:
            unapproved = conn.execute(
                select(func.coalesce(func.sum(bulk_streams.c.declared_rows), 0)).where(
                    bulk_streams.c.recipient == caller.spiffe_id,
                    bulk_streams.c.day == day,
                    bulk_streams.c.approval_id.is_(None),
                )
            ).scalar_one()
            approval = None
            if unapproved + header.declared_rows > self._threshold:
                self._use_approval(conn, header, caller, now)
                approval = header.approval_id
            conn.execute(
                insert(bulk_streams).values(
                    recipient=caller.spiffe_id,
                    day=day,
                    task_id=header.task_id,
                    declared_rows=header.declared_rows,
                    approval_id=approval,
                    admitted_at=now,
                )
            )

    @staticmethod
    def _use_approval(
        conn: Connection, header: pb.BulkHeader, caller: Identity, now: dt.datetime
    ) -> None:
        """Use up the header's approval, if it is unused and fits; else BULK_APPROVAL_REQUIRED."""
        used = conn.execute(
            update(bulk_approvals)
            .where(
                bulk_approvals.c.approval_id == header.approval_id,
                bulk_approvals.c.recipient == caller.spiffe_id,
                bulk_approvals.c.task_id == header.task_id,
                bulk_approvals.c.max_rows >= header.declared_rows,
                bulk_approvals.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        if used.rowcount != 1:
            raise RefusedError(Reason.BULK_APPROVAL_REQUIRED)

    def record(
        self, *, recipient: str, task_id: str, max_rows: int, approved_by: Identity
    ) -> tuple[str, dt.datetime]:
        """Record `approved_by`'s approval of one bulk provision; (approval id, time).

        The recipient must be an organ of the approving operator's prefecture
        that may use the task.
        """
        try:
            who = Identity.parse(recipient)
        except IdentityError:
            raise invalid_field("recipient", "must be a SPIFFE ID of this network") from None
        if who.prefecture != approved_by.prefecture:
            raise RefusedError(
                Reason.TASK_NOT_FOR_CALLER, "the recipient is not an organ of this prefecture"
            )
        self._catalogue.task_for(
            task_id, recipient=who, tables=PREFECTURE_TABLES, wide_area_only=False
        )
        if max_rows < 1:
            raise invalid_field("max_rows", "must be 1 or more")
        approval_id, now = str(uuid.uuid4()), self._clock.now()
        with self._db.transaction() as conn:
            conn.execute(
                insert(bulk_approvals).values(
                    approval_id=approval_id,
                    recipient=who.spiffe_id,
                    task_id=task_id,
                    max_rows=max_rows,
                    approved_by=approved_by.spiffe_id,
                    approved_at=now,
                )
            )
        return approval_id, now
