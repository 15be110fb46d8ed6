"""ChangeNoticeService: the notices of changes refused above (changes/notices.py), each to the
municipality that entered the change — served by a CS (to its register system) and by
prefecture and fuhyo servers (to their CSs, which also take them by themselves:
runtime/notice_taker.py)."""

from __future__ import annotations

import functools

import grpc

from juki.v1 import change_notice_service_pb2 as pb
from juki.v1 import change_notice_service_pb2_grpc as pb_grpc
from jukinet.changes import notices
from jukinet.core import methods as m
from jukinet.core.config import FUHYO_HOP, NEXT_HOP
from jukinet.core.errors import invalid_field
from jukinet.core.identity import Role
from jukinet.runtime.node import Node
from jukinet.runtime.notice_taker import NoticeSource, NoticeTaker
from jukinet.trust.authz import current_caller


class ChangeNoticeServicer(pb_grpc.ChangeNoticeServiceServicer):
    """A caller sees and acknowledges its own municipality's notices only."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def ListChangeNotices(
        self, request: pb.ListChangeNoticesRequest, context: grpc.ServicerContext
    ) -> pb.ListChangeNoticesResponse:
        if not 0 <= request.page_size <= notices.MAX_PAGE:
            raise invalid_field("page_size", f"must be 0..{notices.MAX_PAGE}")
        limit = request.page_size or notices.DEFAULT_PAGE
        with self._node.db.reading() as conn:
            found = notices.unacknowledged(conn, current_caller().code, limit)
        return pb.ListChangeNoticesResponse(notices=found)

    def AcknowledgeChangeNotices(
        self, request: pb.AcknowledgeChangeNoticesRequest, context: grpc.ServicerContext
    ) -> pb.AcknowledgeChangeNoticesResponse:
        if len(request.notice_ids) > notices.MAX_PAGE:
            raise invalid_field("notice_ids", f"must hold at most {notices.MAX_PAGE} ids")
        caller = current_caller()
        with self._node.db.transaction() as conn:
            done = notices.acknowledge(
                conn,
                caller.code,
                list(request.notice_ids),
                caller.spiffe_id,
                self._node.clock.now(),
            )
            self._node.audit.append_in(
                conn,
                actor=caller.spiffe_id,
                action=m.ACKNOWLEDGE_CHANGE_NOTICES,
                outcome="acknowledged",
                reason=f"notices={done}",
            )
        return pb.AcknowledgeChangeNoticesResponse(acknowledged=done)


def add_notices(server: grpc.Server, node: Node) -> None:
    """Serve the node's notices; a CS also takes its own from the servers above it."""
    pb_grpc.add_ChangeNoticeServiceServicer_to_server(ChangeNoticeServicer(node), server)
    config = node.config
    if node.identity.role is not Role.CS or config.notice_poll_s <= 0:
        return
    sources = [
        NoticeSource(hop, target.spiffe_id, functools.partial(node.channel, hop))
        for hop in (NEXT_HOP, FUHYO_HOP)
        if (target := node.hop(hop)) is not None
    ]
    node.add_job(
        NoticeTaker(
            db=node.db,
            municipality=node.identity.code,
            sources=sources,
            vault=node.sealer,
            audit=node.audit,
            clock=node.clock,
            interval_s=config.notice_poll_s,
        )
    )
