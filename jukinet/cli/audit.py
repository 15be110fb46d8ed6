"""`juki-net audit`: checkpoints of a node's tamper-evident logs, exports, and the offline check.

`checkpoint` has a node sign its logs now and its witness cosign them;
`export` writes a log and its checkpoints to one file; `verify` checks such a
file with nothing but the CA's trust bundle and the published key documents
— no access to the node — and names every row that was altered, deleted,
inserted or moved.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from jukinet.cli.errors import FAILED, UsageError, read_text
from jukinet.cli.parsing import Subcommands, add_network, command, group, load_network
from jukinet.client import logs as clients
from jukinet.core.identity import Identity, IdentityError
from jukinet.core.network import NetworkDescription
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import log_owner
from jukinet.transparency import inclusion, note, verify


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """Sign a checkpoint of each chosen log at the node and have it witnessed."""
    network = load_network(args)
    node = network.node(args.node)
    unwitnessed = 0
    for log in [args.log] if args.log else list(clients.LOGS):
        reply = clients.publish_checkpoint(network, node, log, args.operator)
        checkpoint = note.Checkpoint.parse(note.SignedNote.parse(reply.checkpoint).text)
        state = "witnessed" if reply.witnessed else "NOT witnessed"
        print(f"{args.node} {log} log: size {checkpoint.size}, {state}")
        unwitnessed += not reply.witnessed
    return FAILED if unwitnessed else 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one log of a node, with its checkpoints, to a file for `audit verify`."""
    network = load_network(args)
    rows, checkpoints = clients.export_to(
        args.out, network, network.node(args.node), args.log, args.operator
    )
    print(f"{args.out}: the {args.log} log of {args.node}, {rows} rows, {checkpoints} checkpoints")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print a node's self-inspection of a fiscal year (table, or CSV with --csv)."""
    network = load_network(args)
    reply = clients.self_inspection(
        network, network.node(args.node), args.fiscal_year, args.operator
    )
    print(reply.csv if args.csv else reply.table, end="")
    return 0


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in read_text(path).splitlines() if line.strip()]
    except json.JSONDecodeError:
        raise UsageError(f"{path}: not a log export (not JSON lines)") from None


def _directory(args: argparse.Namespace, network: NetworkDescription | None) -> KeyDirectory:
    keys = args.keys or (network.key_directory if network else None)
    bundle = args.bundle or (network.trust_bundle if network else None)
    if keys is None or bundle is None:
        raise UsageError("give --network, or --keys DIR and --bundle FILE")
    if not Path(keys).is_dir():
        raise UsageError(f"{keys}: not a folder of key documents")
    return KeyDirectory(Path(keys), Path(bundle))


def _keys_of(
    args: argparse.Namespace, origin: str
) -> tuple[list[note.NoteKey], list[note.NoteKey], int]:
    """The log keys of the node whose log `origin` is, the cosigning keys of the witnesses its
    CA-signed key document names (not any node's), from the published key documents, and how
    many it names (the quorum counts them all, whether their keys were found or not)."""
    directory = _directory(args, load_network(args) if args.network else None)
    node_id = log_owner(origin)
    try:
        Identity.parse(node_id)
    except IdentityError:
        raise UsageError(f"{origin}: not the origin of a juki-net log") from None
    log_keys = directory.note_keys(node_id)
    if not log_keys:
        raise UsageError(f"no key document lists a log key of {node_id}")
    named = directory.witnesses(node_id)
    witnesses = [
        key for spiffe_id in named for key in directory.note_keys(spiffe_id, note.COSIGNATURE_TYPE)
    ]
    return log_keys, witnesses, len(set(named))


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a log export against its witnessed checkpoints, offline."""
    records = _records(args.input)
    try:
        origin = verify.read_export(records).origin
    except verify.ExportError as bad:
        raise UsageError(f"{args.input}: {bad}") from None
    log_keys, witnesses, named = _keys_of(args, origin)
    extra = []
    if args.witness:  # the witness's own word on how far the log had grown
        network = load_network(args) if args.network else None
        if network is None:
            raise UsageError("--witness needs --network")
        held = clients.witnessed_checkpoint(
            network, network.node(args.witness), origin, args.operator
        )
        if not held:
            raise UsageError(f"{args.witness} holds no checkpoint of {origin}")
        extra.append(note.SignedNote.parse(held))
    report = verify.verify_export(
        records, (), log_keys, witnesses, named=named, held_by_witness=extra
    )
    print(
        f"{origin}: {report.leaves} leaves, {report.rows} rows"
        f" ({report.expired} expired), witnessed up to {report.witnessed_size}"
        + (f" by {', '.join(sorted(report.witnesses))}" if report.witnesses else "")
    )
    for finding in report.findings:
        print(f"  {finding}")
    if not report.witnessed_size:
        print("  no witnessed checkpoint vouches for this log")
    if report.leaves > report.witnessed_size:
        print(f"  {report.leaves - report.witnessed_size} newest leaves are not witnessed yet")
    return FAILED if report.findings or not report.witnessed_size else 0


def cmd_verify_disclosure(args: argparse.Namespace) -> int:
    """Check the proofs handed over with a disclosure, offline."""
    try:
        data = json.loads(read_text(args.input))
        origin = str(data["origin"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UsageError(f"{args.input}: not a proof file of a disclosure") from None
    log_keys, witnesses, named = _keys_of(args, origin)
    try:
        check = inclusion.verify_bundle(data, log_keys, witnesses, named=named)
    except inclusion.BundleError as bad:
        raise UsageError(f"{args.input}: {bad}") from None
    by = ", ".join(sorted(check.witnesses)) or "no witness"
    print(
        f"{origin}: {len(check.proven)} provisions proven in the log at size {check.size},"
        f" cosigned by {by} ({len(check.witnesses)} of the {check.quorum} needed)"
    )
    for index in check.failed:
        print(f"  provision {index}: NOT in the log its witness saw")
    if check.newer:
        print(f"  {len(check.newer)} provisions newer than the checkpoint: not provable yet")
    return 0 if check.ok else FAILED


def add_commands(sub: Subcommands) -> None:
    """audit checkpoint|export|verify."""
    audit = group(
        sub,
        "audit",
        summary="tamper-evident logs: checkpoints, exports and their offline check",
        example="juki-net audit verify --network .juki-state/network.json --in provision.jsonl",
    )
    checkpoint = command(
        audit,
        "checkpoint",
        summary="sign a checkpoint of a node's logs now and have the tier above witness it",
        details="Exits 1 if a checkpoint could not be witnessed (a node with no witness "
        "configured; a witness that is down or refuses).",
        example="juki-net audit checkpoint --network .juki-state/network.json --node prefecture-14",
        func=cmd_checkpoint,
    )
    export = command(
        audit,
        "export",
        summary="write one log of a node and its checkpoints to a file",
        example="juki-net audit export --network .juki-state/network.json --node prefecture-14 "
        "--log provision --out provision.jsonl",
        func=cmd_export,
    )
    inspection = command(
        audit,
        "inspect",
        summary="a node's self-inspection (所属点検) of a fiscal year from its logs",
        details="Operator actions per operator, provisions per client and clerk and per task "
        "and recipient, refusals by reason, days with provisions but no operator on duty, "
        "operator actions outside working hours (weekdays 08:30-17:15 in Japan).",
        example="juki-net audit inspect --network .juki-state/network.json --node prefecture-14 "
        "--fiscal-year 2026",
        func=cmd_inspect,
    )
    inspection.add_argument("--fiscal-year", type=int, required=True, help="年度, e.g. 2026")
    inspection.add_argument("--csv", action="store_true", help="CSV instead of a table")
    for parser in (checkpoint, export, inspection):
        add_network(parser)
        parser.add_argument("--node", required=True, help="the node (name in the description)")
        parser.add_argument(
            "--operator",
            default="operator",
            help="the operator client of the network description to act as (default: %(default)s)",
        )
    checkpoint.add_argument("--log", choices=sorted(clients.LOGS), help="only this log")
    export.add_argument("--log", choices=sorted(clients.LOGS), required=True, help="the log")
    export.add_argument("--out", type=Path, required=True, help="the file to write")
    check = command(
        audit,
        "verify",
        summary="check a log export against its witnessed checkpoints, offline",
        details="Needs only the file, the CA trust bundle and the key documents (from the "
        "network description, or --bundle and --keys). Names every row altered, deleted, "
        "inserted or moved, and leaves rewritten; exits 1 if anything is found or no "
        "witnessed checkpoint vouches for the log.",
        example="juki-net audit verify --network .juki-state/network.json --in provision.jsonl",
        func=cmd_verify,
    )
    check.add_argument("--in", dest="input", type=Path, required=True, help="the export file")
    check.add_argument(
        "--witness",
        help="also ask this node (the log's witness) for the last checkpoint it cosigned, so "
        "an export that stops short of what the witness saw is found (needs --network)",
    )
    check.add_argument(
        "--operator",
        default="operator",
        help="with --witness: the operator client to ask as (default: %(default)s)",
    )
    proofs = command(
        audit,
        "verify-disclosure",
        summary="check the proofs handed over with a disclosure (開示), offline",
        details="Each provision listed must be in the provision log as its witness saw it. "
        "Needs the proof file (`juki-net disclose --proofs FILE`), the CA trust bundle and "
        "the key documents; exits 1 if a provision is not in the log or no witness cosigned.",
        example="juki-net audit verify-disclosure --network .juki-state/network.json "
        "--in proofs.json",
        func=cmd_verify_disclosure,
    )
    proofs.add_argument("--in", dest="input", type=Path, required=True, help="the proof file")
    for parser in (check, proofs):
        parser.add_argument("--network", type=Path, help="the network description (for keys)")
        parser.add_argument("--keys", type=Path, help="the folder of published key documents")
        parser.add_argument(
            "--bundle", type=Path, help="the CA trust bundle the documents are signed by"
        )
