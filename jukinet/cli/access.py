"""`juki-net access`: the access-right ledger of a node — grant, approve (a second
administrator), revoke, list."""

from __future__ import annotations

import argparse

from juki.v1 import access_service_pb2 as pb
from jukinet.cli.parsing import Subcommands, add_network, command, group, load_network, names
from jukinet.client import access as clients
from jukinet.core.network import NetworkDescription


def _operator(network: NetworkDescription, given: str) -> str:
    """A client name of the description, or a SPIFFE ID as it is."""
    return network.clients[given].spiffe_id if given in network.clients else given


def _line(grant: pb.AccessGrant) -> str:
    rights = ",".join(clients.RIGHT_NAMES.get(r, "?") for r in grant.rights)
    state = clients.STATE_NAMES.get(grant.state, "?")
    expires = grant.expires_at.ToDatetime().strftime("%Y-%m-%d")
    who = grant.operator.removeprefix("spiffe://")
    return f"{grant.grant_id}  {state:<8} {who}  {rights}  until {expires}"


def cmd_grant(args: argparse.Namespace) -> int:
    """Grant an operator rights on a node; pending until another administrator approves."""
    network = load_network(args)
    rights = names(args.rights, clients.RIGHTS, "right")
    operator = _operator(network, args.operator)
    grant = clients.grant(network, network.node(args.node), args.admin, operator, rights, args.days)
    print(_line(grant))
    print(
        f"  approve with: juki-net access approve --network {args.network} --node {args.node}"
        f" --grant {grant.grant_id} --as <another administrator>"
    )
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve a pending grant (as another administrator than its granter)."""
    network = load_network(args)
    print(_line(clients.approve(network, network.node(args.node), args.admin, args.grant)))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a grant: out of effect at once."""
    network = load_network(args)
    print(_line(clients.revoke(network, network.node(args.node), args.admin, args.grant)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Every grant of a node, newest first."""
    network = load_network(args)
    held = clients.grants(network, network.node(args.node), args.admin)
    for grant in held:
        print(_line(grant))
    if not held:
        print(f"{args.node}: no grants")
    return 0


def add_commands(sub: Subcommands) -> None:
    """access grant|approve|revoke|list."""
    access = group(
        sub,
        "access",
        summary="operators' rights on a node: granted by one administrator, approved by another",
        example="juki-net access list --network .juki-state/network.json --node prefecture-14 "
        "--as admin-a",
    )
    grant = command(
        access,
        "grant",
        summary="grant an operator rights on a node (in effect once another administrator "
        "approves)",
        example="juki-net access grant --network .juki-state/network.json --node prefecture-14 "
        "--operator clerk --rights disclose --as admin-a",
        func=cmd_grant,
    )
    grant.add_argument(
        "--operator", required=True, help="the operator: a client of the description or its ID"
    )
    grant.add_argument(
        "--rights", required=True, help=f"comma-separated, of: {', '.join(clients.RIGHTS)}"
    )
    grant.add_argument("--days", type=int, default=90, help="days in effect (default: %(default)s)")
    approve = command(
        access,
        "approve",
        summary="approve a pending grant, as another administrator than its granter",
        example="juki-net access approve --network .juki-state/network.json --node "
        "prefecture-14 --grant GRANT_ID --as admin-b",
        func=cmd_approve,
    )
    revoke = command(
        access,
        "revoke",
        summary="revoke a grant, in effect at once",
        example="juki-net access revoke --network .juki-state/network.json --node "
        "prefecture-14 --grant GRANT_ID --as admin-a",
        func=cmd_revoke,
    )
    listing = command(
        access,
        "list",
        summary="every grant of a node, newest first",
        example="juki-net access list --network .juki-state/network.json --node prefecture-14 "
        "--as admin-a",
        func=cmd_list,
    )
    for parser in (grant, approve, revoke, listing):
        add_network(parser)
        parser.add_argument("--node", required=True, help="the node (name in the description)")
        parser.add_argument(
            "--as",
            dest="admin",
            required=True,
            help="the administrator client of the description to act as",
        )
    for parser in (approve, revoke):
        parser.add_argument("--grant", required=True, help="the grant's id")
