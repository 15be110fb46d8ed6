"""Bulk provision approvals: above a threshold, a bulk provision needs an operator's approval.

An operator records an approval for one recipient, one task and at most so
many rows (`record`); a bulk provision that declares more rows than the
threshold uses one unused approval that fits it, once (`admit`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, update

from juki.v1 import provision_service_pb2 as pb
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, IdentityError
from jukinet.provision.catalogue import PREFECTURE_TABLES, Catalogue, default_catalogue
from jukinet.storage import Database
from jukinet.storage.schema import bulk_approvals


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
        """Check a bulk header's row count and, above the threshold, use up its approval."""
        if header.declared_rows < 1:
            raise invalid_field("header.declared_rows", "must be 1 or more")
        if header.declared_rows <= self._threshold:
            return
        with self._db.transaction() as conn:
            used = conn.execute(
                update(bulk_approvals)
                .where(
                    bulk_approvals.c.approval_id == header.approval_id,
                    bulk_approvals.c.recipient == caller.spiffe_id,
                    bulk_approvals.c.task_id == header.task_id,
                    bulk_approvals.c.max_rows >= header.declared_rows,
                    bulk_approvals.c.used_at.is_(None),
                )
                .values(used_at=self._clock.now())
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
