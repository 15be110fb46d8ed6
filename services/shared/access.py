"""AccessAdminService: a node's administrators grant, approve, revoke and list operators' rights
(jukinet/trust/access.py), served by every node."""

from __future__ import annotations

import datetime as dt

import grpc
from google.protobuf import timestamp_pb2

from juki.v1 import access_service_pb2 as pb
from juki.v1 import access_service_pb2_grpc as pb_grpc
from jukinet.core import paging
from jukinet.core.errors import invalid_field
from jukinet.runtime.node import Node
from jukinet.trust.access import WIRE_RIGHTS, WIRE_STATES, AccessLedger, Grant
from jukinet.trust.authz import current_caller

RIGHTS = {wire: right for right, wire in WIRE_RIGHTS.items()}


def _stamp(at: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if at is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def wire_grant(grant: Grant, now: dt.datetime) -> pb.AccessGrant:
    """A ledger row as the wire message."""
    return pb.AccessGrant(
        grant_id=grant.grant_id,
        operator=grant.operator,
        rights=[WIRE_RIGHTS[r] for r in grant.rights],
        granted_by=grant.granted_by,
        granted_at=_stamp(grant.granted_at),
        expires_at=_stamp(grant.expires_at),
        approved_by=grant.approved_by or "",
        approved_at=_stamp(grant.approved_at),
        revoked_by=grant.revoked_by or "",
        revoked_at=_stamp(grant.revoked_at),
        state=WIRE_STATES[grant.state(now)],
    )


class AccessAdminServicer(pb_grpc.AccessAdminServiceServicer):
    """The ledger's RPCs; the caller is checked as an administrator by the ledger itself."""

    def __init__(self, ledger: AccessLedger) -> None:
        self._ledger = ledger

    def _wire(self, grant: Grant) -> pb.AccessGrant:
        return wire_grant(grant, self._ledger.clock.now())

    def GrantAccess(
        self, request: pb.GrantAccessRequest, context: grpc.ServicerContext
    ) -> pb.GrantAccessResponse:
        if any(r not in RIGHTS for r in request.rights):
            raise invalid_field("rights", "each must be a known AccessRight")
        rights = [RIGHTS[r] for r in request.rights]
        grant = self._ledger.grant(current_caller(), request.operator, rights, request.days)
        return pb.GrantAccessResponse(grant=self._wire(grant))

    def ApproveAccess(
        self, request: pb.ApproveAccessRequest, context: grpc.ServicerContext
    ) -> pb.ApproveAccessResponse:
        grant = self._ledger.approve(current_caller(), request.grant_id)
        return pb.ApproveAccessResponse(grant=self._wire(grant))

    def RevokeAccess(
        self, request: pb.RevokeAccessRequest, context: grpc.ServicerContext
    ) -> pb.RevokeAccessResponse:
        grant = self._ledger.revoke(current_caller(), request.grant_id)
        return pb.RevokeAccessResponse(grant=self._wire(grant))

    def ListAccess(
        self, request: pb.ListAccessRequest, context: grpc.ServicerContext
    ) -> pb.ListAccessResponse:
        size = paging.page_size(request.page_size)
        after = None
        if request.page_token:
            at, grant_id = paging.parts_of(request.page_token, 2)
            try:
                after = (dt.datetime.fromisoformat(at), grant_id)
            except ValueError:
                raise paging.bad_token() from None
        grants, more = self._ledger.grants(current_caller(), limit=size, after=after)
        last = grants[-1] if grants and more else None
        return pb.ListAccessResponse(
            grants=[self._wire(g) for g in grants],
            next_page_token=""
            if last is None
            else paging.token(last.granted_at.isoformat(), last.grant_id),
        )


def add_access(server: grpc.Server, node: Node) -> None:
    """Serve AccessAdminService over the node's ledger."""
    pb_grpc.add_AccessAdminServiceServicer_to_server(AccessAdminServicer(node.access), server)
