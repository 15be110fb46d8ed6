"""The fuhyo server's service definition (node infrastructure only, see the package docstring)."""

from __future__ import annotations

import grpc

from jukinet.identity import Role
from jukinet.node import Node, ServiceSpec


def _register(server: grpc.Server, node: Node) -> None:
    """No fuhyo RPCs yet: the node serves NodeAdminService, health and reflection."""


SPEC = ServiceSpec(role=Role.FUHYO, service_names=(), register=_register)
