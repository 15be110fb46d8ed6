"""Granting an operator rights on a node the way its administrators do: one grants over
AccessAdminService, another approves (for tests whose nodes are not a `juki-net up` network)."""

from __future__ import annotations

from juki.v1 import access_service_pb2 as pb
from juki.v1 import access_service_pb2_grpc as pb_grpc
from jukinet.core.config import Credentials
from jukinet.core.identity import Identity
from jukinet.trust import tls


def grant_by_two(
    address: str,
    node: Identity,
    grantor: Credentials,
    approver: Credentials,
    operator: Identity,
    rights: list[pb.AccessRight.ValueType],
) -> None:
    """`grantor` grants `operator` `rights` on the node at `address`; `approver` approves."""
    with tls.secure_channel(address, grantor, node) as channel:
        grant = (
            pb_grpc.AccessAdminServiceStub(channel)
            .GrantAccess(
                pb.GrantAccessRequest(operator=operator.spiffe_id, rights=rights, days=1),
                timeout=10,
            )
            .grant
        )
    with tls.secure_channel(address, approver, node) as channel:
        pb_grpc.AccessAdminServiceStub(channel).ApproveAccess(
            pb.ApproveAccessRequest(grant_id=grant.grant_id), timeout=10
        )
