"""Helpers for tests that run the real local network (node processes on loopback)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import create_engine, func, select, text

from jukinet.client.calls import applied_counts
from jukinet.core.config import Credentials
from jukinet.core.identity import Identity
from jukinet.dev.localnet import LocalNetwork
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import NodeKeyring
from jukinet.storage.schema import audit_log, outbox, provision_log, resident_versions
from jukinet.trust import tls


@contextmanager
def running_network(state_dir: Path, **options: Any) -> Iterator[LocalNetwork]:
    """The `juki-net up` network (its own processes) in `state_dir`, stopped afterwards."""
    net = LocalNetwork(state_dir, **options)
    net.prepare()
    net.start()
    try:
        yield net
    finally:
        net.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def spans_settled(net: LocalNetwork, nodes: Sequence[str]) -> None:
    """Wait until the nodes' span files stop growing: spans reach them in batches (every
    200 ms, core/telemetry.py), so a check of what they hold must let the last batch land."""
    paths = [Path(net.node_info(name).trace_file or "") for name in nodes]

    def sizes() -> list[int]:
        return [p.stat().st_size if p.is_file() else 0 for p in paths]

    previous = [sizes()]

    def unchanged() -> bool:
        time.sleep(0.5)
        now = sizes()
        settled, previous[0] = now == previous[0], now
        return settled

    wait_for(unchanged, timeout=30)


def node_db(net: LocalNetwork, name: str) -> Any:
    """A read-only SQLAlchemy engine on a node's SQLite database."""
    path = Path(net.node_info(name).database_url.removeprefix("sqlite:///"))
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


def versions(net: LocalNetwork, name: str, juminhyo_code: str) -> list[Any]:
    """Every stored version of one person's record on a node."""
    engine = node_db(net, name)
    with engine.connect() as conn:
        rows = conn.execute(
            select(resident_versions).where(resident_versions.c.juminhyo_code == juminhyo_code)
        ).all()
    engine.dispose()
    return list(rows)


def count_rows(net: LocalNetwork, name: str, table: str) -> int:
    """Rows in one table of a node's database."""
    engine = node_db(net, name)
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


def pending_outbox(net: LocalNetwork, name: str) -> int:
    """Outbox entries of a node not yet delivered."""
    engine = node_db(net, name)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).where(outbox.c.state == 1)).scalar_one()
    engine.dispose()
    return int(n)


def applied(net: LocalNetwork) -> dict[str, int]:
    """Applied-change counts of every node, from NodeAdminService."""
    return applied_counts(net.info)


def everything_written(net: LocalNetwork) -> dict[str, tuple[int, int, int]]:
    """(versions, received changes, outbox rows) per node: to show nothing was written."""
    return {
        n.name: (
            count_rows(net, n.name, "resident_versions"),
            count_rows(net, n.name, "received_changes"),
            count_rows(net, n.name, "outbox"),
        )
        for n in net.info.nodes
    }


def provision_rows(net: LocalNetwork, name: str, request_id: str | None = None) -> list[Any]:
    """A node's provision-log rows, oldest first (only one request's, if given)."""
    statement = select(provision_log).order_by(provision_log.c.id)
    if request_id is not None:
        statement = statement.where(provision_log.c.request_id == request_id)
    engine = node_db(net, name)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    engine.dispose()
    return list(rows)


def last_audit_reason(net: LocalNetwork, name: str) -> str:
    """The reason of the newest entry of a node's audit log ('' if empty)."""
    engine = node_db(net, name)
    with engine.connect() as conn:
        row = conn.execute(select(audit_log.c.reason).order_by(audit_log.c.seq.desc())).first()
    engine.dispose()
    return str(row.reason) if row else ""


def client_credentials(net: LocalNetwork, client: str) -> Credentials:
    """The TLS credentials of one of network.json's clients (e.g. 'operator')."""
    return net.info.credentials(net.info.clients[client])


def node_credentials(net: LocalNetwork, name: str) -> Credentials:
    """A node's own TLS credentials (to act as that node in a test)."""
    folder = Path(net.node_info(name).config).parent
    return Credentials(
        cert_file=folder / "node.crt", key_file=folder / "node.key", trust_bundle=net.bundle
    )


def node_sealer(net: LocalNetwork, name: str) -> Sealer:
    """A node's own sealer (its private keys and the network's key directory)."""
    info = net.node_info(name)
    keyring = NodeKeyring(info.config.parent / "sealing-keys.json")
    return Sealer(info.spiffe_id, keyring, KeyDirectory(net.key_dir, net.bundle))


def channel_as(net: LocalNetwork, target: str, creds: Credentials) -> grpc.Channel:
    """A channel to node `target` presenting `creds`."""
    info = net.node_info(target)
    return tls.secure_channel(info.address, creds, Identity.parse(info.spiffe_id))
