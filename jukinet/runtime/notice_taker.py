"""A CS takes the notices of its changes that a tier above refused (誤りの通報).

Every `notice_poll_s` seconds the CS asks each server above it (its prefecture server for
resident changes, its fuhyo server for fuhyo changes) for the notices of its municipality
(ChangeNoticeService), and for each, in one transaction: marks its own copy of the change
refused (changes/above.py `refuse`: history keeps it, the person's state goes back, a notice
waits for the register system, the audit log records it) and its outbox entry REJECTED with
the reason and the refusing node, which `GetChangeStatus` then shows. Only then does it
acknowledge them above: a notice taken twice (the acknowledgement was lost) is taken once.
A notice of a change this CS never sent, or of another municipality's, changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from sqlalchemy import Connection, select, update

from juki.v1 import change_notice_service_pb2 as pb
from juki.v1 import change_notice_service_pb2_grpc as pb_grpc
from jukinet.changes import above
from jukinet.changes.ledger import Vault
from jukinet.changes.notices import MAX_PAGE
from jukinet.core import methods as m
from jukinet.core.clock import Clock
from jukinet.core.errors import Reason
from jukinet.core.identity import NODE_ROLES, Identity, IdentityError
from jukinet.runtime.jobs import BackgroundJob
from jukinet.storage import Database
from jukinet.storage.outbox_state import OutboxState
from jukinet.storage.schema import outbox
from jukinet.trust.audit import AuditLog

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0
_FILES = {pb.NOTICED_FILE_RESIDENT: above.RESIDENTS, pb.NOTICED_FILE_FUHYO: above.FUHYO}


@dataclass(frozen=True)
class NoticeSource:
    """A server above this CS: its hop's name, its SPIFFE ID, and this node's current channel
    to it."""

    hop: str
    peer: str
    channel: Callable[[], grpc.Channel | None]


class NoticeTaker(BackgroundJob):
    """Takes the CS's notices from the servers above it (module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        municipality: str,
        sources: list[NoticeSource],
        vault: Vault,
        audit: AuditLog,
        clock: Clock,
        interval_s: float,
    ) -> None:
        self._db = db
        self._municipality = municipality
        self._sources = sources
        self._vault = vault
        self._audit = audit
        self._clock = clock
        self._interval_s = interval_s
        super().__init__("notice-taker")

    def run(self) -> None:
        while not self.stopped.wait(self._interval_s):
            for source in self._sources:
                try:
                    self.take_from(source)
                except grpc.RpcError as error:
                    log.warning("%s: notices not taken (%s)", source.hop, error.code().name)
                except Exception:  # the loop must outlive one bad answer
                    log.exception("%s: notices not taken", source.hop)

    def take_from(self, source: NoticeSource) -> int:
        """Take the waiting notices from one server above; how many."""
        channel = source.channel()
        if channel is None:
            return 0
        stub = pb_grpc.ChangeNoticeServiceStub(channel)
        listed = stub.ListChangeNotices(
            pb.ListChangeNoticesRequest(page_size=MAX_PAGE), timeout=CALL_TIMEOUT_S
        )
        if not listed.notices:
            return 0
        with self._db.transaction() as conn:
            for notice in listed.notices:
                self._take(conn, source, notice)
        stub.AcknowledgeChangeNotices(
            pb.AcknowledgeChangeNoticesRequest(notice_ids=[n.notice_id for n in listed.notices]),
            timeout=CALL_TIMEOUT_S,
        )
        log.info("%s: %d change(s) refused above", source.hop, len(listed.notices))
        return len(listed.notices)

    def _take(self, conn: Connection, source: NoticeSource, notice: pb.ChangeNotice) -> None:
        file = _FILES.get(notice.file)
        entry = conn.execute(
            select(outbox.c.id, outbox.c.payload).where(outbox.c.change_id == notice.change_id)
        ).first()
        if file is None or entry is None or notice.municipality_code != self._municipality:
            return  # nothing of ours: nothing to take back
        change = self._vault.open_at_rest(entry.payload, file.change_type)
        if change.municipality_code != self._municipality:  # type: ignore[attr-defined]
            return
        reason = Reason.known(notice.reason)
        refused_by = _node_or(notice.refused_by, source.peer)
        if not above.refuse(
            conn,
            file,
            change,
            reason=reason,
            refused_by=refused_by,
            action=m.LIST_CHANGE_NOTICES,
            audit=self._audit,
            at=self._clock.now(),
        ):
            return
        conn.execute(
            update(outbox)
            .where(outbox.c.id == entry.id)
            .values(
                state=OutboxState.REJECTED,
                rejection_reason=reason,
                rejected_by=refused_by,
                finished_at=self._clock.now(),
            )
        )


def _node_or(refused_by: str, peer: str) -> str:
    """The refusing node a notice names, if it names a node of the network; else the server the
    notice came from (it is answerable for what it hands down)."""
    try:
        return refused_by if Identity.parse(refused_by).role in NODE_ROLES else peer
    except IdentityError:
        return peer
