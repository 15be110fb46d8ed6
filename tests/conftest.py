"""Shared fixtures: a real local network of node processes (fresh PKI per module); one node's
store on SQLite and on a real PostgreSQL server; a node's real at-rest sealing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jukinet.dev.localnet import LocalNetwork
from jukinet.sealing.envelope import Sealer
from jukinet.storage import Database, open_database
from tests.helpers.network import running_network
from tests.helpers.postgres import postgres_server
from tests.helpers.sealing import make_world


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """The `juki-net up` network (8 nodes, own processes) in a temporary state dir."""
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


@pytest.fixture
def vault(tmp_path: Path) -> Sealer:
    """The node's real at-rest sealing (keys, key document, CA) in a temporary folder."""
    node = "spiffe://juki.example/prefecture/14"
    return make_world(tmp_path / "world", (node,)).sealer(node)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated node store, once on SQLite and once on a throwaway PostgreSQL server."""
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'node.db'}")
        yield database
        database.dispose()
        return
    with postgres_server() as url:
        database = open_database(url)
        yield database
        database.dispose()
