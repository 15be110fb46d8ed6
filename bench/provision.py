"""P2 and P4 for bench/run.py: provision queries at a loaded prefecture server, the load itself,
and the bare gRPC echo over the same mutual TLS every figure is compared with.

- P4: N synthetic residents written into prefecture-14's store (time, rows/s, database bytes
  per resident), extrapolated linearly to Tokyo (14M) and the nation (125M). The time is the
  writing; making the synthetic people up (Faker) is reported beside it, not counted, since
  a real load reads people who already exist.
- baseline: a unary echo of a few bytes on a bare gRPC server holding the prefecture's own
  certificate, called with an organ's client certificate (sequential, and 16 concurrent).
- P2: QueryResidents as organ/14/tax-office under pref5-prefectural-tax by 住民票コード, My
  Number and 4 information (kana + birth date), sequential and 16 concurrent; everything on
  (policy, catalogue, provision log in the same transaction, tracing to a span file).

Targets (issue #7): P2 p99 <= 2x the bare p99; P4 1M residents in <= 2 minutes.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import select, text

from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.client import calls as clients
from jukinet.core.identity import Identity, Role
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import free_port
from jukinet.runtime.node import WORKERS
from jukinet.storage import open_database
from jukinet.storage.schema import resident_current
from jukinet.trust import tls

CONCURRENCY = 16
ORGAN = "organ-14-tax-office"
TASK = "pref5-prefectural-tax"
TOKYO, NATION = 14_000_000, 125_000_000


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3}


def measure(call: Callable[[int], object], count: int, concurrency: int) -> dict[str, float]:
    """Latency percentiles and rate of `count` calls spread over `concurrency` threads."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(start: int) -> None:
        mine = []
        for i in range(start, count, concurrency):
            t0 = time.perf_counter()
            call(i)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    with futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    took = time.perf_counter() - began
    return {**percentiles(latencies), "rate_per_s": count / took}


def server_credentials(folder: Path, bundle: Path) -> grpc.ServerCredentials:
    """Every benchmark server's TLS: the certificate of the node whose `folder` it is (the
    prefecture's), client certificates required and checked against `bundle`."""
    return grpc.ssl_server_credentials(
        [((folder / "node.key").read_bytes(), (folder / "node.crt").read_bytes())],
        root_certificates=bundle.read_bytes(),
        require_client_auth=True,
    )


def _echo_server(net: LocalNetwork) -> tuple[grpc.Server, str]:
    """A bare unary echo with the prefecture's certificate, client certificates required."""
    creds = server_credentials(net.node_dir("prefecture-14"), net.bundle)
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, _: request)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS), handlers=[handler])
    address = f"127.0.0.1:{free_port()}"
    server.add_secure_port(address, creds)
    server.start()
    return server, address


def baseline(net: LocalNetwork, count: int) -> dict[str, dict[str, float]]:
    """The bare echo, sequential and concurrent."""
    server, address = _echo_server(net)
    creds = net.info.credentials(net.info.clients[ORGAN])
    channel = tls.secure_channel(address, creds, Identity.of(Role.PREFECTURE, "14"))
    echo = channel.unary_unary("/bench.Echo/Echo")
    try:
        echo(b"warm-up", timeout=10)
        return {
            "sequential": measure(lambda _: echo(b"0123456789abcdef", timeout=10), count, 1),
            "concurrent": measure(
                lambda _: echo(b"0123456789abcdef", timeout=10), count, CONCURRENCY
            ),
        }
    finally:
        channel.close()
        server.stop(None)


def load(net: LocalNetwork, residents: int) -> dict[str, float]:
    """P4: residents into prefecture-14's store, before the node starts."""
    url = net.node_info("prefecture-14").database_url
    db = open_database(url)
    loaded = synthetic.load_residents(db, "14", residents, seed=7)
    took = loaded.writing_s
    if db.engine.dialect.name == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        with db.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    db.dispose()
    per_resident = size / residents
    rate = residents / took
    return {
        "residents": residents,
        "seconds": took,
        "generating_seconds": loaded.generating_s,
        "rows_per_s": rate,
        "bytes_per_resident": per_resident,
        "tokyo_minutes": TOKYO / rate / 60,
        "tokyo_gb": TOKYO * per_resident / 1e9,
        "nation_hours": NATION / rate / 3600,
        "nation_gb": NATION * per_resident / 1e9,
    }


def _sample(net: LocalNetwork, count: int) -> list[Any]:
    engine = open_database(net.node_info("prefecture-14").database_url).engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                resident_current.c.juminhyo_code,
                resident_current.c.my_number,
                resident_current.c.seion_kana,
                resident_current.c.birth_date,
            ).limit(count)
        ).all()
    engine.dispose()
    return list(rows)


def queries(net: LocalNetwork, count: int) -> dict[str, dict[str, float]]:
    """P2 by each key, sequential and concurrent, on one channel as the organ."""
    people = _sample(net, 200)
    keys: dict[str, Callable[[Any], pb.ResidentQuery]] = {
        "juminhyo_code": lambda p: clients.query(TASK, juminhyo_code=p.juminhyo_code),
        "my_number": lambda p: clients.query(TASK, my_number=p.my_number),
        "four_information": lambda p: clients.query(
            TASK,
            four=clients.four_information(name_kana=p.seion_kana, birth_date=p.birth_date),
        ),
    }
    results = {}
    with net.client_channel("prefecture-14", ORGAN) as channel:
        stub = pb_grpc.ProvisionServiceStub(channel)
        for name, build in keys.items():

            def call(i: int, build: Callable[[Any], pb.ResidentQuery] = build) -> None:
                reply = stub.QueryResidents(
                    pb.QueryResidentsRequest(query=build(people[i % len(people)])), timeout=10
                )
                assert reply.records, "a sampled person was not found"

            call(0)
            results[f"{name} sequential"] = measure(call, count, 1)
            results[f"{name} concurrent"] = measure(call, count, CONCURRENCY)
    return results
