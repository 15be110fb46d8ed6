"""Hosts for multi-host tests: network namespaces the test makes itself, on a bridge of their own.

Each host is a network namespace with one veth interface and an address in
10.77.0.0/24; the bridge joining them lives in a namespace of its own, so
nothing is added to (or sent from) the namespace the test runs in. Loopback
stays down inside every host: a node can only be reached, and reach others,
through its own address. Everything made is removed at the end.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

SUBNET = "10.77.0"


@dataclass(frozen=True)
class Host:
    """One machine of the test: a network namespace and its address."""

    name: str
    netns: str
    address: str

    def prefix(self) -> tuple[str, ...]:
        """What runs a command on this host."""
        return ("ip", "netns", "exec", self.netns)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def namespaces_permitted() -> bool:
    """True if this process may make network namespaces (root, and the kernel lets it)."""
    if os.geteuid() != 0:
        return False
    probe = f"jk-probe-{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False
    _ip("netns", "del", probe)
    return True


def require_namespaces() -> None:
    """Skip the test, saying why, where network namespaces cannot be made."""
    if not namespaces_permitted():
        pytest.skip("network namespaces need root and `ip netns` (iproute2); not permitted here")


@contextmanager
def hosts(names: Sequence[str]) -> Iterator[dict[str, Host]]:
    """Hosts called `names`, each in its own namespace on one bridge; removed afterwards."""
    tag = uuid.uuid4().hex[:5]
    bridge_ns = f"jk{tag}-br"
    made = [bridge_ns]
    _ip("netns", "add", bridge_ns)
    try:
        _ip("-n", bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", bridge_ns, "link", "set", "br0", "up")
        result = {}
        for i, name in enumerate(names, start=10):
            netns = f"jk{tag}-{name}"[:15]
            _ip("netns", "add", netns)
            made.append(netns)
            outside, inside = f"v{tag}{i}", "eth0"
            _ip("link", "add", outside, "type", "veth", "peer", "name", f"p{tag}{i}")
            _ip("link", "set", outside, "netns", bridge_ns)
            _ip("link", "set", f"p{tag}{i}", "netns", netns)
            _ip("-n", netns, "link", "set", f"p{tag}{i}", "name", inside)
            address = f"{SUBNET}.{i}"
            _ip("-n", netns, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", netns, "link", "set", inside, "up")
            _ip("-n", bridge_ns, "link", "set", outside, "master", "br0")
            _ip("-n", bridge_ns, "link", "set", outside, "up")
            result[name] = Host(name, netns, address)
        yield result
    finally:
        for netns in reversed(made):
            pids = subprocess.run(
                ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
