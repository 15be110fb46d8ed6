"""The `juki-net` command: one parser, one module per command group.

juki-net up --state-dir DIR           run the local network and its demo
juki-net serve --config FILE          run one node (what `up` starts per node)
juki-net health --config FILE         is the node on this host serving (container/k8s probes)
juki-net pki init-ca|issue|renew|revoke|crl|rollover|inspect …   PKI folder operations
juki-net net renew|revoke|rollover --state-dir DIR …             the same on a local network
juki-net keys rotate|retire …         sealing-key rotation of a local network's node
juki-net submit --network FILE …      enter a change at a CS as its register system
juki-net status --network FILE        every node's status, as an operator
juki-net consistency --network FILE --municipality CODE   整合性確認, tier by tier
juki-net access grant|approve|revoke|list …  operators' rights, two administrators per grant
juki-net audit checkpoint|export|verify …   tamper-evident logs and their offline check
juki-net query|bulk --network FILE --as CLIENT --task T …        provision
juki-net disclose|stats|approve --network FILE …                 operator provision RPCs
juki-net tasks                        the task catalogue
juki-net load|retention --config FILE …                          a node's store
juki-net backup|restore --config FILE …  sealed backups (backup-key: the custodian's keys)
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from jukinet.cli import errors
from jukinet.cli.errors import Parser
from jukinet.core import logs

# The command groups, by module of jukinet.cli, in the order `juki-net --help` lists them.
GROUPS = (
    "nodes",
    "node",
    "health",
    "pki",
    "net",
    "changes",
    "consistency",
    "provision",
    "access",
    "audit",
    "data",
    "backup",
)
# Which group defines each top-level command: a command imports only its own group (a CLI
# process starts in a fraction of the time); tests/test_cli.py checks this against the parser.
COMMAND_GROUPS = {
    "up": "nodes",
    "serve": "nodes",
    "node": "node",
    "network": "node",
    "health": "health",
    "pki": "pki",
    "net": "net",
    "keys": "net",
    "submit": "changes",
    "status": "changes",
    "notices": "changes",
    "consistency": "consistency",
    "query": "provision",
    "bulk": "provision",
    "disclose": "provision",
    "stats": "provision",
    "approve": "provision",
    "tasks": "provision",
    "access": "access",
    "audit": "audit",
    "load": "data",
    "retention": "data",
    "backup": "backup",
    "restore": "backup",
    "backup-key": "backup",
}


def _groups(argv: list[str]) -> list[ModuleType]:
    """The group modules a command line needs: the one its command is in, or all of them (no
    command, an unknown one, or a request for the list)."""
    words = [a for a in argv if not a.startswith("-")]
    chosen = COMMAND_GROUPS.get(words[0]) if words else None
    names = [chosen] if chosen else GROUPS
    return [importlib.import_module(f"jukinet.cli.{name}") for name in names]


def build_parser(argv: list[str] | None = None) -> Parser:
    """The juki-net argument parser: every command of every group (only the groups `argv`
    needs, if given)."""
    parser = Parser(
        prog=errors.PROG,
        description="juki-net: Japan's Basic Resident Registry Network, as gRPC services.",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="show the Python traceback of an unexpected failure (for bug reports)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _groups([] if argv is None else argv):
        before = set(sub.choices)
        group.add_commands(sub)
        stale = [c for c in set(sub.choices) - before if COMMAND_GROUPS.get(c) != _name(group)]
        if stale:  # a command added to a group but not to COMMAND_GROUPS (the help walk fails)
            raise RuntimeError(f"COMMAND_GROUPS does not name the group of {sorted(stale)}")
    return parser


def _name(group: ModuleType) -> str:
    return group.__name__.rsplit(".", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command (`jukinet.cli.main` is the console command's entry)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if not getattr(args, "log_format_from_config", False):  # `serve` chooses after its config
        logs.configure(errors.PROG, "text")
    return errors.run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
