"""The plan of the local network: its nodes and hops, its clients, and free loopback ports."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from jukinet.core.identity import Role

HOST = "127.0.0.1"


@dataclass(frozen=True)
class NodePlan:
    """One node of the local network: its role, code and hops (by name)."""

    role: Role
    code: str = ""
    next_hop: str | None = None
    fuhyo_hop: str | None = None
    link_hop: str | None = None
    # The national server's witnesses (two prefecture servers); every other node's is its next
    # hop. A witness of the national server's logs compares with the other (peer_witness_hop).
    witness_hops: tuple[str, ...] = ()
    peer_witness_hop: str | None = None

    @property
    def name(self) -> str:
        """e.g. 'cs-141003', 'national'."""
        return f"{self.role.value}-{self.code}" if self.code else self.role.value


# Start order: every node's hops come before it (but the national server's witnesses and their
# peers, asked only when a checkpoint is published or compared).
TOPOLOGY: tuple[NodePlan, ...] = (
    NodePlan(Role.NATIONAL, witness_hops=("prefecture-13", "prefecture-14")),
    NodePlan(Role.PREFECTURE, "13", next_hop="national", peer_witness_hop="prefecture-14"),
    NodePlan(Role.PREFECTURE, "14", next_hop="national", peer_witness_hop="prefecture-13"),
    NodePlan(Role.FUHYO, "13", next_hop="national", link_hop="prefecture-13"),
    NodePlan(Role.FUHYO, "14", next_hop="national", link_hop="prefecture-14"),
    NodePlan(Role.CS, "131016", next_hop="prefecture-13", fuhyo_hop="fuhyo-13"),  # 千代田区
    NodePlan(Role.CS, "141003", next_hop="prefecture-14", fuhyo_hop="fuhyo-14"),  # 横浜市
    NodePlan(Role.CS, "141305", next_hop="prefecture-14", fuhyo_hop="fuhyo-14"),  # 川崎市
)

OPERATOR_IDENTITY = ("14", "local-admin")
# The local network's two administrators (every node's `administrators`): one grants, the other
# approves (trust/access.py). `start()` grants the operator every right on every node this way.
ADMINISTRATORS = {"admin-a": ("14", "admin-a"), "admin-b": ("14", "admin-b")}
# An operator with no grant at all: the demo shows it refused, then granted.
CLERK = ("clerk", ("14", "counter-clerk"))
# A second operator with every right, as the operator has: the other person who approves the
# repairs of a consistency check the operator ran (consistency/runner.py).
SUPERVISOR = ("supervisor", ("14", "supervisor"))
# Organs of the prefectures and national agencies that ask for records (see tasks.toml).
ORGANS = (
    ("14", "passport-centre"),
    ("14", "tax-office"),
    ("14", "welfare-office"),
    ("14", "board-of-education"),
    ("14", "npo-office"),
    ("13", "passport-centre"),
)
AGENCIES = ("pension-service", "mofa-passport")


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if `port` can be bound on loopback now."""
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True
