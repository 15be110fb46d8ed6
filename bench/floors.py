"""The floors P2 and P3 are measured against (issue #18): an echo that must not answer before a
row is durable, alone and chained.

- durable_commit: the bare mTLS echo, but the server durably commits one provision-log-sized
  row (about 400 bytes, its own table, in a database of the same kind and settings as the
  figure it floors: SQLite WAL with synchronous=FULL, or PostgreSQL with fsync) before it
  answers; concurrent callers' rows share a commit (the provision log's own GroupCommit).
- chained_commit: organ → A → B, both echo servers of that kind: B commits its row and
  answers, then A commits its own and answers — the shape of the narrow link (a fuhyo server
  asks its prefecture server, each logs the provision).

Both sequential and 16 concurrent, over the same mutual TLS as every other figure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
import provision
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from jukinet.core.identity import Identity, Role
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import free_port
from jukinet.storage import Database, open_database
from jukinet.storage.group_commit import GroupCommit
from jukinet.trust import tls

_metadata = MetaData()
_rows = Table(
    "floor_rows",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(400), nullable=False),
)
_BODY = "x" * 400  # about a provision-log row


def _server(
    net: LocalNetwork, db: Database, behind: Callable[[bytes], bytes] | None
) -> tuple[grpc.Server, str]:
    """An echo with the prefecture's certificate that calls `behind` (if any), then commits."""
    _metadata.create_all(db.engine)
    commits: GroupCommit[str] = GroupCommit(
        db, lambda conn, bodies: conn.execute(insert(_rows), [{"body": b} for b in bodies])
    )
    creds = provision.server_credentials(net.node_dir("prefecture-14"), net.bundle)

    def echo(request: bytes, _context: Any) -> bytes:
        answer = behind(request) if behind else request
        commits.commit([_BODY])
        return answer

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), handlers=[handler])
    address = f"127.0.0.1:{free_port()}"
    server.add_secure_port(address, creds)
    server.start()
    return server, address


def _channel(net: LocalNetwork, address: str) -> grpc.Channel:
    creds = net.info.credentials(net.info.clients[provision.ORGAN])
    return tls.secure_channel(address, creds, Identity.of(Role.PREFECTURE, "14"))


def _figures(call: Callable[[bytes], Any], count: int) -> dict[str, dict[str, float]]:
    call(b"warm-up")
    payload = b"0123456789abcdef"
    return {
        "sequential": provision.measure(lambda _: call(payload), count, 1),
        "concurrent": provision.measure(lambda _: call(payload), count, provision.CONCURRENCY),
    }


def floors(net: LocalNetwork, count: int, database: Callable[[str], str]) -> dict[str, Any]:
    """durable_commit and chained_commit; `database(name)` gives a fresh database's URL."""
    opened: list[Database] = []
    servers: list[grpc.Server] = []
    channels: list[grpc.Channel] = []

    def server(name: str, behind: Callable[[bytes], bytes] | None = None) -> str:
        db = open_database(database(name), run_migrations=False)
        opened.append(db)
        srv, address = _server(net, db, behind)
        servers.append(srv)
        return address

    def stub(address: str) -> Callable[[bytes], bytes]:
        channel = _channel(net, address)
        channels.append(channel)
        call = channel.unary_unary("/bench.Echo/Echo")
        return lambda payload: call(payload, timeout=10)

    try:
        durable = _figures(stub(server("floor_durable")), count)
        b = stub(server("floor_chain_b"))
        chained = _figures(stub(server("floor_chain_a", behind=b)), count)
        return {"durable_commit": durable, "chained_commit": chained}
    finally:
        for channel in channels:
            channel.close()
        for srv in servers:
            srv.stop(None)
        for db in opened:
            db.dispose()


def sqlite_in(folder: str) -> Callable[[str], str]:
    """Fresh SQLite files in `folder` (the nodes' settings: WAL, synchronous=FULL)."""
    return lambda name: f"sqlite:///{os.path.join(folder, name + '.db')}"
