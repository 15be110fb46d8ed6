"""gRPC's thread-pool server against its asyncio server, per call (#18: would rewriting every
servicer for grpc.aio make a call cheaper?).

Usage: python bench/grpc_servers.py [--calls N] [--rounds R] [--json FILE]

The smallest call a node serves (a health check) over the benchmark's mutual TLS
(prefecture-14's certificate, an organ's client certificate), served by each kind of server
in a process of its own, as a node runs. Sequential and 16 concurrent callers; the server
process's CPU per call (from /proc, Linux) and the rate. Each kind is measured R times (3),
interleaved with the other, and the least CPU kept, since the machine is noisy; what to
compare across machines is the ratio of the two kinds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import arguments
import grpc
import provision
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from jukinet.core.identity import Identity, Role
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import NodePlan
from jukinet.runtime.node import WORKERS
from jukinet.trust import tls

PREFECTURE = Identity.of(Role.PREFECTURE, "14")
KINDS = ("thread pool", "asyncio")
CONCURRENCY = (1, provision.CONCURRENCY)


def _serve(kind: str, folder: Path, bundle: Path, ports: Any) -> None:
    """A server process: serve health checks until terminated, its port put on `ports`."""
    creds = provision.server_credentials(folder, bundle)
    if kind == "thread pool":
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))  # as a node's
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
        ports.put(server.add_secure_port("127.0.0.1:0", creds))
        server.start()
        server.wait_for_termination()
        return

    async def serve() -> None:
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health_async.HealthServicer(), server)
        ports.put(server.add_secure_port("127.0.0.1:0", creds))
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve())


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(net: LocalNetwork, kind: str, concurrency: int, calls: int) -> dict[str, float]:
    """Server CPU per call and calls per second against a fresh server process of `kind`."""
    spawn = multiprocessing.get_context("spawn")  # a process of its own, as a node
    ports = spawn.Queue()
    folder = net.node_dir("prefecture-14")
    process = spawn.Process(target=_serve, args=(kind, folder, net.bundle, ports), daemon=True)
    process.start()
    try:
        address = f"127.0.0.1:{ports.get(timeout=60)}"
        creds = net.info.credentials(net.info.clients[provision.ORGAN])
        with tls.secure_channel(address, creds, PREFECTURE) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest()
            for _ in range(min(calls, 200)):
                stub.Check(request, timeout=10)
            cpu_before, began = _cpu_s(process.pid or 0), time.perf_counter()
            with futures.ThreadPoolExecutor(concurrency) as callers:
                list(callers.map(lambda _: stub.Check(request, timeout=10), range(calls)))
            elapsed = time.perf_counter() - began
            cpu_us = (_cpu_s(process.pid or 0) - cpu_before) / calls * 1e6
    finally:
        process.terminate()
        process.join()
    return {"server_cpu_us_per_call": cpu_us, "rate_per_s": calls / elapsed}


def run(calls: int, rounds: int = 3) -> list[dict[str, Any]]:
    """Each kind and concurrency: the least server CPU per call of `rounds` interleaved runs."""
    with tempfile.TemporaryDirectory() as tmp:
        net = LocalNetwork(Path(tmp) / "net", topology=(NodePlan(Role.PREFECTURE, "14"),))
        net.prepare()
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(rounds):
            for concurrency in CONCURRENCY:
                for kind in KINDS:
                    runs.setdefault((kind, concurrency), []).append(
                        _measure(net, kind, concurrency, calls)
                    )
    return [
        {
            "server": kind,
            "concurrency": concurrency,
            "server_cpu_us_per_call": min(r["server_cpu_us_per_call"] for r in figures),
            "rate_per_s": max(r["rate_per_s"] for r in figures),
        }
        for (kind, concurrency), figures in runs.items()
    ]


def report(results: list[dict[str, Any]]) -> None:
    """One line per kind and concurrency, asyncio's CPU as a ratio to the thread pool's."""
    print("gRPC servers (health check over mutual TLS; server process CPU per call):")
    pool = {r["concurrency"]: r for r in results if r["server"] == KINDS[0]}
    for row in results:
        ratio = row["server_cpu_us_per_call"] / pool[row["concurrency"]]["server_cpu_us_per_call"]
        print(
            f"  {row['server']:<12} {row['concurrency']:>2} caller(s)  "
            f"CPU {row['server_cpu_us_per_call']:>5.0f} µs/call  "
            f"rate {row['rate_per_s']:>6.0f}/s  ({ratio:.2f}x the thread pool's CPU)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=arguments.count, default=3_000, help="calls per measurement"
    )
    parser.add_argument(
        "--rounds", type=arguments.count, default=3, help="interleaved runs per figure"
    )
    parser.add_argument("--json", type=arguments.json_file, help="also write the figures as JSON")
    args = parser.parse_args()
    results = run(args.calls, args.rounds)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
