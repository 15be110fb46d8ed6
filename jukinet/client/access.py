"""What a node's administrators ask of its access-right ledger (AccessAdminService)."""

from __future__ import annotations

from collections.abc import Sequence

from juki.v1 import access_service_pb2 as pb
from juki.v1 import access_service_pb2_grpc as pb_grpc
from jukinet.client.channels import connect
from jukinet.core.network import NetworkDescription, NodeEntry
from jukinet.trust.access import WIRE_RIGHTS, WIRE_STATES

RIGHTS = {right.value: wire for right, wire in WIRE_RIGHTS.items()}
RIGHT_NAMES = {wire: name for name, wire in RIGHTS.items()}
STATE_NAMES = {wire: state.value for state, wire in WIRE_STATES.items()}
ACCESS_TIMEOUT_S = 30.0


def grant(
    network: NetworkDescription,
    node: NodeEntry,
    admin: str,
    operator: str,
    rights: Sequence[str],
    days: int,
) -> pb.AccessGrant:
    """GrantAccess at `node` as the administrator client `admin`: the pending grant."""
    request = pb.GrantAccessRequest(
        operator=operator, rights=[RIGHTS[r] for r in rights], days=days
    )
    with connect(network, node, network.client(admin)) as channel:
        reply = pb_grpc.AccessAdminServiceStub(channel).GrantAccess(
            request, timeout=ACCESS_TIMEOUT_S
        )
    return reply.grant


def approve(
    network: NetworkDescription, node: NodeEntry, admin: str, grant_id: str
) -> pb.AccessGrant:
    """ApproveAccess of one grant at `node` as `admin` (not the one who granted it)."""
    return _on_grant(network, node, admin, grant_id, approve=True)


def revoke(
    network: NetworkDescription, node: NodeEntry, admin: str, grant_id: str
) -> pb.AccessGrant:
    """RevokeAccess of one grant at `node` as `admin`."""
    return _on_grant(network, node, admin, grant_id, approve=False)


def _on_grant(
    network: NetworkDescription, node: NodeEntry, admin: str, grant_id: str, *, approve: bool
) -> pb.AccessGrant:
    with connect(network, node, network.client(admin)) as channel:
        stub = pb_grpc.AccessAdminServiceStub(channel)
        if approve:
            approved = stub.ApproveAccess(
                pb.ApproveAccessRequest(grant_id=grant_id), timeout=ACCESS_TIMEOUT_S
            )
            return approved.grant
        revoked = stub.RevokeAccess(
            pb.RevokeAccessRequest(grant_id=grant_id), timeout=ACCESS_TIMEOUT_S
        )
        return revoked.grant


def grants(
    network: NetworkDescription, node: NodeEntry, admin: str, *, page_size: int = 0
) -> list[pb.AccessGrant]:
    """ListAccess at `node` as `admin`: every grant, newest first (page after page)."""
    grants: list[pb.AccessGrant] = []
    with connect(network, node, network.client(admin)) as channel:
        stub = pb_grpc.AccessAdminServiceStub(channel)
        page = ""
        while True:
            reply = stub.ListAccess(
                pb.ListAccessRequest(page_size=page_size, page_token=page),
                timeout=ACCESS_TIMEOUT_S,
            )
            grants.extend(reply.grants)
            page = reply.next_page_token
            if not page:
                return grants
