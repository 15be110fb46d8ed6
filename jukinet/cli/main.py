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

import sys

from jukinet.cli import (
    access,
    audit,
    backup,
    changes,
    consistency,
    data,
    errors,
    health,
    net,
    node,
    nodes,
    pki,
    provision,
)
from jukinet.cli.errors import Parser
from jukinet.core import logs

GROUPS = (
    nodes,
    node,
    health,
    pki,
    net,
    changes,
    consistency,
    provision,
    access,
    audit,
    data,
    backup,
)


def build_parser() -> Parser:
    """The juki-net argument parser: every command of every group."""
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
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command (`jukinet.cli.main` is the console command's entry)."""
    args = build_parser().parse_args(argv)
    if not getattr(args, "log_format_from_config", False):  # `serve` chooses after its config
        logs.configure(errors.PROG, "text")
    return errors.run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
