"""Shared fixtures: a real local network of node processes with a fresh PKI per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jukinet.localnet import LocalNetwork


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """The `juki-net up` network (7 nodes, own processes) in a temporary state dir."""
    net = LocalNetwork(tmp_path_factory.mktemp("net"))
    net.prepare()
    net.start()
    try:
        yield net
    finally:
        net.stop()
