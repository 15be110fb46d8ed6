"""What each layer of a node's server stack costs per call (#18: where P2 and P3 spend their time
beyond the floors).

A gRPC health check (the smallest call every node serves) over the benchmark's mutual TLS
(prefecture-14's certificate, an organ's client certificate), served by a server with no
interceptor, then with the node's interceptors added one at a time from the innermost, as
`runtime/node.py` stacks them: the unexpected-error guard, authorisation (policy table), the
revocation check, OpenTelemetry server spans to a span file. Last, the same full stack called
through a traced client channel, as one node calls the next. Sequential calls; p50 latency, and
this process's CPU per call (client and server both run here, so a row's difference to the row
before is what its layer costs). Each stack is measured three times, interleaved, and the least
of the three kept, since the machine is noisy.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import provision
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider

from jukinet.core.identity import Identity, Role
from jukinet.core.telemetry import grpc_server_interceptor, setup_tracing, traced_channel
from jukinet.core.unexpected import UnexpectedErrors
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import NodePlan, free_port
from jukinet.runtime.node import WORKERS
from jukinet.storage import open_database
from jukinet.trust import tls
from jukinet.trust.audit import AuditLog
from jukinet.trust.authz import AuthorizationInterceptor
from jukinet.trust.revocation import RevocationList

PREFECTURE = Identity.of(Role.PREFECTURE, "14")
ROUNDS = 3


def _stacks(net: LocalNetwork, audit: AuditLog, tracer: TracerProvider) -> dict[str, list[Any]]:
    """The stacks measured, each the one before with one layer more (outermost first)."""
    revocation = RevocationList(net.pki.crl, net.bundle)
    authz = AuthorizationInterceptor(PREFECTURE, audit)
    checked = AuthorizationInterceptor(PREFECTURE, audit, revocation=revocation)
    return {
        "bare": [],
        "+ unexpected-error guard": [UnexpectedErrors()],
        "+ authorisation": [authz, UnexpectedErrors()],
        "+ revocation check": [checked, UnexpectedErrors()],
        "+ tracing (server spans)": [grpc_server_interceptor(tracer), checked, UnexpectedErrors()],
    }


def _measure(stub: health_pb2_grpc.HealthStub, calls: int) -> tuple[float, float]:
    """(p50 ms, CPU µs per call) of `calls` sequential health checks, after a warm-up."""
    request = health_pb2.HealthCheckRequest()
    for _ in range(min(calls, 100)):
        stub.Check(request)
    latencies = []
    cpu_before = time.process_time()
    for _ in range(calls):
        began = time.perf_counter()
        stub.Check(request)
        latencies.append(time.perf_counter() - began)
    cpu_us = (time.process_time() - cpu_before) / calls * 1e6
    latencies.sort()
    return latencies[len(latencies) // 2] * 1e3, cpu_us


def _serve(net: LocalNetwork, interceptors: Sequence[Any]) -> tuple[grpc.Server, str]:
    creds = provision.server_credentials(net.node_dir("prefecture-14"), net.bundle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS), interceptors=interceptors)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    address = f"127.0.0.1:{free_port()}"
    server.add_secure_port(address, creds)
    server.start()
    return server, address


def _stack_figures(
    net: LocalNetwork, interceptors: Sequence[Any], tracer: TracerProvider | None, calls: int
) -> tuple[float, float]:
    """`_measure` against a server with `interceptors`, over a channel traced by `tracer`."""
    server, address = _serve(net, interceptors)
    creds = net.info.credentials(net.info.clients[provision.ORGAN])
    channel = tls.secure_channel(address, creds, PREFECTURE)
    try:
        traced = traced_channel(channel, tracer) if tracer else channel
        return _measure(health_pb2_grpc.HealthStub(traced), calls)
    finally:
        channel.close()
        server.stop(None)


def run(calls: int) -> list[dict[str, Any]]:
    """Each stack's p50 and CPU per call (the least of `ROUNDS` interleaved runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = LocalNetwork(folder / "net", topology=(NodePlan(Role.PREFECTURE, "14"),))
        net.prepare()
        tracer = setup_tracing("bench-layers", folder / "spans.jsonl")
        audit_db = open_database(f"sqlite:///{folder / 'audit.db'}")
        stacks = _stacks(net, AuditLog(audit_db), tracer)
        full = list(stacks.values())[-1]
        rows: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            for label, interceptors in stacks.items():
                figures = _stack_figures(net, interceptors, None, calls)
                rows.setdefault(label, []).append(figures)
            figures = _stack_figures(net, full, tracer, calls)
            rows.setdefault("+ traced client channel", []).append(figures)
        tracer.shutdown()
        audit_db.dispose()
    return [
        {
            "layer": label,
            "p50_ms": min(p50 for p50, _ in runs),
            "cpu_us_per_call": min(cpu for _, cpu in runs),
        }
        for label, runs in rows.items()
    ]


def report(results: list[dict[str, Any]]) -> None:
    """The stacks, each with what it adds to the one before."""
    print("server layers (health check, sequential; CPU of client and server per call):")
    before = None
    for row in results:
        added = "" if before is None else f"  ({row['cpu_us_per_call'] - before:+.0f} µs)"
        print(
            f"  {row['layer']:<28} p50 {row['p50_ms']:>6.3f} ms  "
            f"CPU {row['cpu_us_per_call']:>6.0f} µs/call{added}"
        )
        before = row["cpu_us_per_call"]
