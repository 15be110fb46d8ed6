"""`juki-net net …` and `juki-net keys …`: certificates and sealing keys of a local network."""

from __future__ import annotations

import argparse
from pathlib import Path

from jukinet.cli.parsing import Subcommands, command, group
from jukinet.dev.localnet import LocalNetwork


def _network(args: argparse.Namespace) -> LocalNetwork:
    """The local network in --state-dir (its network.json must exist)."""
    net = LocalNetwork(args.state_dir)
    net.load()
    return net


def cmd_renew(args: argparse.Namespace) -> int:
    """Renew node (and client) certificates of a local network."""
    net = _network(args)
    for name in args.node:
        net.node_info(name)  # every name is checked before anything is renewed
    if args.node:
        for name in args.node:
            net.issue_node_certificate(name)
    else:
        net.renew_all()
    print(f"renewed {', '.join(args.node) if args.node else 'every node and client certificate'}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a local network node's certificate."""
    net = _network(args)
    net.node_info(args.node)
    serial = net.revoke_node(args.node)
    print(f"revoked {args.node} (serial {serial:x}); every node refuses it from its next call")
    return 0


def cmd_rollover(args: argparse.Namespace) -> int:
    """CA rollover of a local network: begin, then `net renew`, then finish."""
    net = _network(args)
    if args.step == "begin":
        net.rollover_begin()
    else:
        net.rollover_finish()
    hint = "; now run `juki-net net renew` then `rollover finish`" if args.step == "begin" else ""
    print(f"rollover {args.step} done{hint}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """New sealing keys for a node of a local network, published beside the old ones."""
    net = _network(args)
    net.node_info(args.node)
    net.rotate_keys(args.node)
    print(f"{args.node}: new sealing keys published; old keys still open envelopes until retired")
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """End a rotation's overlap: remove a node's superseded sealing keys."""
    net = _network(args)
    net.node_info(args.node)
    dropped = net.retire_keys(args.node)
    print(f"{args.node}: retired {', '.join(dropped) or 'nothing'}")
    return 0


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, required=True, help="the local network's folder (`juki-net up`)"
    )


def add_commands(sub: Subcommands) -> None:
    """net renew|revoke|rollover, keys rotate|retire."""
    net = group(
        sub,
        "net",
        summary="certificate lifecycle of a local network: renew, revoke, CA rollover",
        example="juki-net net renew --state-dir .juki-state",
    )
    renew = command(
        net,
        "renew",
        summary="renew every node and client certificate, or one node's",
        example="juki-net net renew --state-dir .juki-state --node prefecture-14",
        func=cmd_renew,
    )
    renew.add_argument(
        "--node", action="append", default=[], help="only this node (repeatable; default: all)"
    )
    revoke = command(
        net,
        "revoke",
        summary="revoke a node's certificate",
        example="juki-net net revoke --state-dir .juki-state --node cs-141305",
        func=cmd_revoke,
    )
    revoke.add_argument("--node", required=True, help="the node, e.g. cs-141305")
    rollover = command(
        net,
        "rollover",
        summary="CA rollover: begin, then `net renew`, then finish",
        example="juki-net net rollover begin --state-dir .juki-state",
        func=cmd_rollover,
    )
    rollover.add_argument("step", choices=["begin", "finish"], help="which step of the rollover")
    for p in (renew, revoke, rollover):
        _state_dir(p)

    keys = group(
        sub,
        "keys",
        summary="sealing keys of a local network's nodes: rotate, retire",
        example="juki-net keys rotate --state-dir .juki-state --node prefecture-14",
    )
    for verb, func, summary in (
        ("rotate", cmd_keys_rotate, "publish new sealing keys beside the old"),
        ("retire", cmd_keys_retire, "remove superseded sealing keys (ends the overlap)"),
    ):
        p = command(
            keys,
            verb,
            summary=summary,
            example=f"juki-net keys {verb} --state-dir .juki-state --node prefecture-14",
            func=func,
        )
        _state_dir(p)
        p.add_argument("--node", required=True, help="node name, e.g. prefecture-14")
