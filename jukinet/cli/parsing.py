"""Building the command tree: each command with a description, help on every option, an example."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jukinet.cli.errors import Parser, UsageError
from jukinet.core.network import NetworkDescription

Command = Callable[[argparse.Namespace], int]
Subcommands = Any  # argparse's _SubParsersAction, which it does not export


def command(
    sub: Subcommands,
    name: str,
    *,
    summary: str,
    example: str,
    func: Command | None = None,
    details: str = "",
) -> Parser:
    """A subcommand: `summary` in the list of commands, `details` and `example` in its --help."""
    parser: Parser = sub.add_parser(
        name,
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}.{' ' + details if details else ''}",
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if func is not None:
        parser.set_defaults(func=func)
    return parser


def group(sub: Subcommands, name: str, *, summary: str, example: str) -> Subcommands:
    """A command with subcommands of its own (pki, net, keys)."""
    parser = command(sub, name, summary=summary, example=example)
    return parser.add_subparsers(dest=name, required=True, metavar="COMMAND")


def add_network(parser: argparse.ArgumentParser) -> None:
    """The --network option of every command that talks to nodes."""
    parser.add_argument(
        "--network",
        type=Path,
        required=True,
        help="the network description (network.json, written by `juki-net up`)",
    )


def load_network(args: argparse.Namespace) -> NetworkDescription:
    """The network description named by --network."""
    path: Path = args.network
    return NetworkDescription.load(path)


def positive(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def names(text: str, known: Any, what: str) -> list[str]:
    """A comma-separated list of names, each one of `known`; UsageError naming the stranger."""
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    for name in chosen:
        if name not in known:
            raise UsageError(f"unknown {what} {name!r}; {what}s are: {', '.join(known)}")
    return chosen
