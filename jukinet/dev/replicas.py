"""Replicas on a local network: a second `serve` process of a node, and hops that reach both.

For the replica test and benchmark (PostgreSQL only: SQLite refuses a second process). A
replica is the node's config with its own ports; the nodes that call it are pointed at one
round-robin target naming every replica (``ipv4:HOST:PORT,HOST:PORT``) and restarted.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from jukinet.client.channels import connect
from jukinet.core.network import OPERATOR
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.supervisor import STARTUP_TIMEOUT_S
from jukinet.dev.topology import HOST, free_port

REPLICA_CONFIG = "config-replica.json"


@dataclasses.dataclass(frozen=True)
class Replica:
    """A second process of a node: its config, address and metrics address."""

    node: str
    config: Path
    address: str
    metrics_address: str


def prepare_replica(net: LocalNetwork, name: str) -> Replica:
    """Write a second config of node `name`: same identity, keys and database, own ports."""
    original = net.node_info(name).config
    if original is None:
        raise ValueError(f"{name} has no config on this machine")
    data = json.loads(original.read_text(encoding="utf-8"))
    data["listen"] = f"{HOST}:{free_port()}"
    data["metrics_listen"] = f"{HOST}:{free_port()}"
    config = original.with_name(REPLICA_CONFIG)
    config.write_text(json.dumps(data), encoding="utf-8")
    return Replica(name, config, data["listen"], data["metrics_listen"])


def start_replica(net: LocalNetwork, replica: Replica) -> None:
    """Start the replica's process under the network's supervisor (as "<node>-b") and wait
    until it serves."""
    name = f"{replica.node}-b"
    net.supervisor.start(name, replica.config, replica.config.with_name("replica.log"))
    entry = dataclasses.replace(net.node_info(replica.node), address=replica.address)
    with connect(net.info, entry, net.info.client(OPERATOR)) as channel:
        net.supervisor.wait_healthy(name, channel, STARTUP_TIMEOUT_S)


def set_hop(config: Path, hop: str, addresses: list[str]) -> None:
    """Point a config's `hop` at several replicas: one round-robin target."""
    data = json.loads(config.read_text(encoding="utf-8"))
    data[hop]["address"] = "ipv4:" + ",".join(addresses)
    config.write_text(json.dumps(data), encoding="utf-8")


def point_at(net: LocalNetwork, node: str, hop: str, addresses: list[str]) -> None:
    """Make `node` reach its `hop` through every replica, and restart it."""
    config = net.node_info(node).config
    if config is None:
        raise ValueError(f"{node} has no config on this machine")
    set_hop(config, hop, addresses)
    net.stop_node(node)
    net.start_node(node)


def replicate(net: LocalNetwork, upper: str, lower: str) -> tuple[Replica, Replica]:
    """A second process each of `upper` (e.g. national) and `lower` (e.g. prefecture-14, whose
    next hop is `upper`), both replicas of `lower` delivering to both of `upper`."""
    above, below = prepare_replica(net, upper), prepare_replica(net, lower)
    both_above = [net.node_info(upper).address, above.address]
    set_hop(below.config, "next_hop", both_above)
    for replica in (above, below):
        start_replica(net, replica)
    point_at(net, lower, "next_hop", both_above)
    return above, below
