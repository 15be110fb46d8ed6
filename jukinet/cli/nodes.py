"""`juki-net up` (the local network and its demo) and `juki-net serve` (one node)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from jukinet.cli.errors import node_config
from jukinet.cli.parsing import Subcommands, command
from jukinet.core import clock, logs
from jukinet.dev.demo import run_demo
from jukinet.dev.grpcurl import grpcurl_commands
from jukinet.dev.localnet import LocalNetwork

RENEW_CHECK_S = 30.0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run one node until SIGINT/SIGTERM."""
    from jukinet.runtime.node import serve
    from services import spec_for

    config = node_config(args.config)
    role = config.identity.role
    logs.configure(config.name, args.log_format or config.log_format)
    if args.print_config:
        print(config.to_toml(), end="")
        return 0
    serve(config, spec_for(role))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Run the local network in the foreground until Ctrl-C or SIGTERM."""
    net = LocalNetwork(args.state_dir)
    network = net.prepare()
    done = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        net.start()
        print(f"juki-net: {len(network.nodes)} nodes up; state in {net.dir}")
        for node in network.nodes:
            metrics = f"metrics http://{node.metrics_address}/metrics"
            print(f"  {node.name:<15} {node.address:<17} {node.spiffe_id:<38} {metrics}")
        print(f"network description: {net.dir / 'network.json'}\n\ngrpcurl commands:")
        print("\n".join(grpcurl_commands(network)))
        print()
        if not args.no_demo:
            run_demo(network, net.dir / "network.json")
        print("\nrunning; press Ctrl-C to stop")
        sys.stdout.flush()
        # Node certificates are renewed at half their lifetime, CRLs re-signed at half theirs.
        while not done.wait(RENEW_CHECK_S):
            renewed = net.renew_due(clock.SYSTEM.now())
            if renewed:
                print(f"renewed certificates of {', '.join(renewed)}")
    finally:
        print("stopping…")
        net.stop()
    return 0


def add_commands(sub: Subcommands) -> None:
    """up, serve."""
    up = command(
        sub,
        "up",
        summary="run the local network (eight nodes, dev PKI, SQLite) and its demo",
        details="Stays in the foreground until Ctrl-C or SIGTERM, then stops every node.",
        example="juki-net up --state-dir .juki-state",
        func=cmd_up,
    )
    up.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="folder of the network's PKI, node folders and network.json (kept across runs)",
    )
    up.add_argument("--no-demo", action="store_true", help="start the nodes without the demo")
    serve = command(
        sub,
        "serve",
        summary="run one node in the foreground",
        example="juki-net serve --config .juki-state/nodes/cs-141003/config.json",
        func=cmd_serve,
    )
    serve.add_argument("--config", type=Path, required=True, help="the node's config file")
    serve.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        help="log lines as text or JSON lines (default: the config's log_format, text)",
    )
    serve.add_argument(
        "--print-config",
        action="store_true",
        help="print the config as the node reads it (every key, paths resolved) and exit",
    )
    serve.set_defaults(log_format_from_config=True)
