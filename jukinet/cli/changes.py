"""`juki-net submit` (a change, as the register system), `juki-net notices` (the changes refused
above, as the register system) and `juki-net status` (every node)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import grpc

from juki.v1 import change_notice_service_pb2 as change_notice_pb
from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.cli.errors import FAILED, read_message, refusal_line
from jukinet.cli.parsing import Subcommands, add_network, command, load_network
from jukinet.client import calls as clients


def cmd_submit(args: argparse.Namespace) -> int:
    """Enter a change read from a JSON file (a juki.v1.Change, or a FuhyoChange with --fuhyo)."""
    network = load_network(args)
    if args.fuhyo:
        fuhyo = read_message(args.change_file, fuhyo_pb.FuhyoChange)
        change_id, outcome = fuhyo.change_id, clients.submit_fuhyo_change(network, fuhyo)
    else:
        change = read_message(args.change_file, common_pb2.Change)
        change_id, outcome = change.change_id, clients.submit_change(network, change)
    print(f"accepted change {change_id}{_NOTED.get(outcome, '')}")
    return 0


# What the register system's operator is told beside "accepted" (a refusal is an error line).
_NOTED = {
    common_pb2.CHANGE_OUTCOME_DUPLICATE: " (duplicate)",
    common_pb2.CHANGE_OUTCOME_HELD: " (held: it waits for an earlier change of the person)",
}


_FILES = {
    change_notice_pb.NOTICED_FILE_RESIDENT: "resident",
    change_notice_pb.NOTICED_FILE_FUHYO: "fuhyo",
}


def cmd_notices(args: argparse.Namespace) -> int:
    """List the municipality's changes refused above, not acknowledged yet (--ack: and
    acknowledge them)."""
    network = load_network(args)
    found = clients.change_notices(network, args.municipality, acknowledge=args.ack)
    for notice in found:
        noticed = notice.noticed_at.ToDatetime(dt.UTC).isoformat(timespec="seconds")
        print(
            f"notice {notice.notice_id}: {_FILES.get(notice.file, '?')} change "
            f"{notice.change_id} refused by {notice.refused_by} [{notice.reason}] at {noticed}"
        )
    print(f"{len(found)} notice(s){' acknowledged' if args.ack and found else ''}")
    return 0


HEADER = (
    f"{'node':<16}{'residents':>10}{'fuhyo':>7}{'applied':>9}{'pending':>9}{'rejected':>9}"
    f"{'up':>9}{'trust':>7}  certificate"
)


def _duration(seconds: int) -> str:
    """A short duration: 42s, 17m, 5h, 3d; '-' for none (-1)."""
    if seconds < 0:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cmd_status(args: argparse.Namespace) -> int:
    """Print every node's counts, outbox and certificate; one line for each node not reached."""
    network = load_network(args)
    print(HEADER)
    unreached = 0
    for node in network.nodes:
        try:
            r = clients.node_status(network, node, args.operator)
        except grpc.RpcError as error:
            unreached += 1
            print(f"{node.name:<16}{refusal_line(error)}")
            continue
        left = f"{r.certificate_seconds_left / 3600:.1f} h left"
        certificate = "REVOKED" if r.certificate_revoked else left
        print(
            f"{node.name:<16}{r.resident_count:>10}{r.fuhyo_count:>7}{r.applied_change_count:>9}"
            f"{r.outbox_pending_count:>9}{r.outbox_rejected_count:>9}"
            f"{_duration(r.uptime_seconds):>9}{_duration(r.trust_material_age_seconds):>7}"
            f"  {certificate}"
        )
    return FAILED if unreached else 0


def add_commands(sub: Subcommands) -> None:
    """submit, notices, status."""
    submit = command(
        sub,
        "submit",
        summary="enter a change at its municipality's CS, as that municipality's register system",
        details="The file is the protobuf JSON of a juki.v1.Change; examples/changes/ has one "
        "for every change reason.",
        example="juki-net submit --network .juki-state/network.json examples/changes/01_birth.json",
        func=cmd_submit,
    )
    add_network(submit)
    submit.add_argument("change_file", type=Path, help="the change (protobuf JSON)")
    submit.add_argument(
        "--fuhyo", action="store_true", help="the file is a juki.v1.FuhyoChange (附票)"
    )
    notices = command(
        sub,
        "notices",
        summary="the municipality's changes refused above (誤りの通報), as its register system",
        details="Each line names the change, who refused it and why; --ack acknowledges the "
        "ones listed, which are then listed no more. Every acknowledgement is in the CS's "
        "audit log.",
        example="juki-net notices --network .juki-state/network.json --municipality 141003",
        func=cmd_notices,
    )
    add_network(notices)
    notices.add_argument(
        "--municipality", required=True, help="the municipality code (its CS and register system)"
    )
    notices.add_argument("--ack", action="store_true", help="acknowledge the notices listed")
    status = command(
        sub,
        "status",
        summary="every node's counts, outbox and certificate, as an operator",
        details="`up` is how long the node process has run (a restart shows), `trust` the age "
        "of its trust material (- where it refreshes none). Exits 1 if a node could not be "
        "reached (it is listed with the reason).",
        example="juki-net status --network .juki-state/network.json",
        func=cmd_status,
    )
    add_network(status)
    status.add_argument(
        "--operator",
        default="operator",
        help="the operator client of the network description to ask as (default: %(default)s)",
    )
