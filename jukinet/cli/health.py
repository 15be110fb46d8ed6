"""`juki-net health`: is this node serving? Asked as the node itself, over mTLS.

What the container's HEALTHCHECK and Kubernetes' probes run: kubelet's own
gRPC probe cannot present a client certificate, and every juki-net port
requires one; the node's own certificate is a network identity, which the
policy admits to the health service.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jukinet.cli.errors import FAILED, node_config
from jukinet.cli.parsing import Subcommands, command
from jukinet.core.config import host_and_port
from jukinet.trust import tls

HEALTH_TIMEOUT_S = 5.0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 if the node answers SERVING, 1 otherwise."""
    config = node_config(args.config)
    _host, port = host_and_port(config.listen)
    address = f"{args.host}:{port}"
    try:
        with tls.secure_channel(address, config.credentials, config.identity) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_S
            )
    except grpc.RpcError as error:
        print(f"{config.name}: not serving ({error.code().name})")
        return FAILED
    state = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(f"{config.name}: {state}")
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else FAILED


def add_commands(sub: Subcommands) -> None:
    """health."""
    health = command(
        sub,
        "health",
        summary="ask a node on this host whether it is serving, as the node itself",
        details="For container health checks and Kubernetes probes: exits 0 if the node "
        "answers SERVING, 1 if it does not answer or is not serving.",
        example="juki-net health --config .juki-state/nodes/prefecture-14/config.json",
        func=cmd_health,
    )
    health.add_argument("--config", type=Path, required=True, help="the node's config file")
    health.add_argument(
        "--host", default="127.0.0.1", help="where to reach it (default: %(default)s)"
    )
