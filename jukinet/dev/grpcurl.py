"""grpcurl command lines for the nodes of a network description (printed by `juki-net up`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jukinet.core import clock
from jukinet.core.clock import fiscal_year
from jukinet.core.identity import Role
from jukinet.core.network import NetworkDescription


def grpcurl_path() -> str:
    """grpcurl beside this interpreter (installed by the `tools` extra), else from PATH."""
    beside = Path(sys.executable).parent / "grpcurl"
    return str(beside) if beside.exists() else "grpcurl"


def grpcurl_commands(network: NetworkDescription) -> list[str]:
    """Working grpcurl invocations for every node, with the operator's certificate."""
    op = network.operator
    base = f"{grpcurl_path()} -cacert {network.trust_bundle} -cert {op.cert} -key {op.key}"
    operator_prefecture = op.identity.prefecture
    lines = []
    for node in network.nodes:
        lines.append(f"# {node.name} ({node.spiffe_id})")
        lines.append(f"{base} {node.address} list")
        lines.append(f"{base} {node.address} grpc.health.v1.Health/Check")
        lines.append(f"{base} {node.address} juki.v1.NodeAdminService/GetNodeStatus")
        if node.role is Role.PREFECTURE and node.code == operator_prefecture:
            year = json.dumps({"fiscal_year": fiscal_year(clock.SYSTEM.now())})
            lines.append(
                f"{base} -d '{year}' {node.address} "
                "juki.v1.ProvisionAdminService/GetProvisionStatistics"
            )
    return lines
