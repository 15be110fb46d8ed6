"""`juki-net consistency`: compare a municipality's records tier by tier (整合性確認), repair
what is missing or behind, and approve the repairs that wait for an operator."""

from __future__ import annotations

import argparse

from juki.v1 import consistency_service_pb2 as pb
from jukinet.cli.errors import FAILED, UsageError
from jukinet.cli.parsing import Subcommands, add_network, command, load_network
from jukinet.client import calls as clients
from jukinet.core.identity import Role
from jukinet.core.network import NetworkDescription, NodeEntry
from jukinet.records.identifiers import is_known_municipality, prefecture_of

FILES = {"resident": pb.RECORD_FILE_RESIDENT, "fuhyo": pb.RECORD_FILE_FUHYO}
_FILE_NAMES = {value: name for name, value in FILES.items()}
_KINDS = (
    ("missing_above", "missing above"),
    ("missing_below", "missing below"),
    ("different_version", "older above"),
    ("different_content", "different content"),
)


# Which server above a CS drives each file's comparison with national.
_SERVER_OF = {pb.RECORD_FILE_RESIDENT: Role.PREFECTURE, pb.RECORD_FILE_FUHYO: Role.FUHYO}


def _tiers(
    network: NetworkDescription, municipality: str, files: list[pb.RecordFile.ValueType]
) -> list[NodeEntry]:
    """Where the municipality's comparisons are driven, lower tier first: its CS, then its
    prefecture server (resident) and fuhyo server (fuhyo)."""
    prefecture = prefecture_of(municipality)
    return [network.node_of(Role.CS, municipality)] + [
        network.node_of(_SERVER_OF[file], prefecture) for file in files
    ]


def report_line(node: str, report: pb.ConsistencyReport) -> str:
    """One comparison, for people: what was compared, what differs, what was done."""
    above = report.compared_with.removeprefix("spiffe://").split("/", 1)[-1]
    counts = report.found
    found = [f"{label} {getattr(counts, name)}" for name, label in _KINDS if getattr(counts, name)]
    if not report.complete:
        outcome = f"not finished ({report.incomplete_reason}); nothing repaired"
    elif not found:
        outcome = "consistent"
    else:
        outcome = ", ".join(found)
        if report.repairs_queued:
            outcome += f"; repaired {report.repairs_queued} ({report.repairs_delivered} delivered)"
        if report.awaiting_approval:
            outcome += f"; {report.awaiting_approval} await approval"
    kilobytes = (report.bytes_sent + report.bytes_received) / 1000
    return (
        f"{node:<14} ↔ {above:<14} {_FILE_NAMES.get(report.file, '?'):<8}"
        f" {report.records_here:>9} here {report.records_above:>9} above"
        f"  {report.round_trips} round trips, {kilobytes:.1f} kB  {outcome}"
    )


def cmd_consistency(args: argparse.Namespace) -> int:
    """Run the comparisons of one municipality, or approve one run's waiting repairs."""
    network = load_network(args)
    if args.approve:
        if not args.node:
            raise UsageError("--approve needs --node, the node whose run it is")
        answer = clients.approve_repairs(
            network, network.node(args.node), args.approve, args.operator
        )
        print(f"{args.node}: {answer.repairs_queued} repairs queued, {answer.resolved} resolved")
        return 0
    if not args.municipality:
        raise UsageError("give --municipality CODE (or --approve RUN_ID --node NODE)")
    if not is_known_municipality(args.municipality):
        raise UsageError(f"{args.municipality!r} is not a municipality code of JIS X 0402")
    files = [FILES[args.file]] if args.file else list(FILES.values())
    unfinished = 0
    for node in _tiers(network, args.municipality, files):
        file = FILES[args.file] if args.file else pb.RECORD_FILE_UNSPECIFIED
        for report in clients.consistency_check(
            network, node, args.municipality, file, args.operator
        ):
            print(report_line(node.name, report))
            if report.awaiting_approval:
                print(
                    f"  approve with: juki-net consistency --network {args.network} "
                    f"--approve {report.run_id} --node {node.name} --operator OTHER_OPERATOR"
                )
            unfinished += not report.complete or bool(report.awaiting_approval)
    return FAILED if unfinished else 0


def add_commands(sub: Subcommands) -> None:
    """consistency."""
    check = command(
        sub,
        "consistency",
        summary="compare a municipality's records tier by tier and repair what differs",
        details="Runs the comparison at the municipality's CS (with its prefecture and fuhyo "
        "servers), then at those servers (with national), as an operator. What is missing or "
        "older above is re-sent at once; a person above but not below, or different content "
        "at the same version, waits for --approve. Exits 1 if a run did not finish or "
        "repairs wait for approval.",
        example="juki-net consistency --network .juki-state/network.json --municipality 141003",
        func=cmd_consistency,
    )
    add_network(check)
    check.add_argument("--municipality", help="the municipality (6-digit code) to compare")
    check.add_argument(
        "--file", choices=sorted(FILES), help="compare only this file (default: both)"
    )
    check.add_argument("--approve", metavar="RUN_ID", help="approve the waiting repairs of a run")
    check.add_argument("--node", help="with --approve: the node whose run it is")
    check.add_argument(
        "--operator",
        default="operator",
        help="the operator client of the network description to act as (default: %(default)s)",
    )
