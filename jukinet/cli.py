"""The `juki-net` command: run the local network or one node, manage the PKI, enter changes.

Subcommands::

    juki-net up --state-dir DIR           run the local network and its demo
    juki-net serve --config FILE          run one node (what `up` starts per node)
    juki-net pki init-ca --dir DIR        create a development CA and trust bundle
    juki-net pki issue …                  issue a node or client certificate
    juki-net pki inspect FILE             identity, serial, validity of a certificate
    juki-net keys rotate|retire …         sealing-key rotation of a local network's node
    juki-net submit --network FILE …      enter a change at a CS as its register system
    juki-net status --network FILE        every node's status, as the operator
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from google.protobuf import json_format

from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import node_admin_service_pb2 as admin_pb2
from juki.v1 import node_admin_service_pb2_grpc as admin_grpc
from jukinet import pki, synthetic
from jukinet.config import load_node_config
from jukinet.errors import error_info
from jukinet.identity import Identity
from jukinet.localnet import LocalNetwork, connect, grpcurl_commands

DEMO_TIMEOUT_S = 60.0


def _load_network(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- serve ---------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    """Run one node until SIGINT/SIGTERM."""
    from jukinet.node import serve
    from services import spec_for

    config = load_node_config(args.config)
    serve(config, spec_for(config.identity.role))
    return 0


# -- pki ------------------------------------------------------------------------------
def cmd_pki_init_ca(args: argparse.Namespace) -> int:
    """Create ca.crt/ca.key and bundle.pem in --dir (refuses to overwrite a CA)."""
    if (args.dir / "ca.key").exists():
        print(f"{args.dir / 'ca.key'} exists; refusing to overwrite a CA", file=sys.stderr)
        return 1
    issuer = pki.create_ca(args.name, lifetime=dt.timedelta(days=args.days))
    pki.write_pair(args.dir, "ca", issuer.certificate, issuer.key)
    pki.write_bundle(args.dir / "bundle.pem", [issuer.certificate])
    print(f"CA written to {args.dir}/ca.crt (key 0600), trust bundle {args.dir}/bundle.pem")
    return 0


def cmd_pki_issue(args: argparse.Namespace) -> int:
    """Issue a certificate for a SPIFFE ID, signed by the CA in --ca-dir."""
    issuer = pki.Issuer.load(args.ca_dir / "ca.crt", args.ca_dir / "ca.key")
    identity = Identity.parse(args.spiffe_id)
    cert, key = pki.issue(
        issuer,
        identity,
        lifetime=dt.timedelta(hours=args.hours),
        dns_names=args.dns,
        ip_addresses=args.ip,
    )
    cert_path, key_path = pki.write_pair(args.out, args.stem, cert, key)
    print(f"issued {identity} -> {cert_path} (key {key_path}, 0600)")
    return 0


def describe_certificate(path: Path) -> dict[str, str]:
    """What an operator needs to know about a certificate file."""
    cert = pki.load_certificate(path)
    left = cert.not_valid_after_utc - pki.now()
    return {
        "spiffe_id": pki.spiffe_id_of(cert) if not _is_ca(cert) else "(CA)",
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "seconds_left": str(int(left.total_seconds())),
    }


def _is_ca(cert: Any) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def cmd_pki_inspect(args: argparse.Namespace) -> int:
    """Print a certificate's identity, serial and validity as JSON."""
    print(json.dumps(describe_certificate(args.file), indent=2))
    return 0


# -- sealing keys ----------------------------------------------------------------------
def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """New sealing keys for a node of a local network, published beside the old ones."""
    net = LocalNetwork(args.state_dir)
    net.rotate_keys(args.node)
    print(f"{args.node}: new sealing keys published; old keys still open envelopes until retired")
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """End a rotation's overlap: remove a node's superseded sealing keys."""
    dropped = LocalNetwork(args.state_dir).retire_keys(args.node)
    print(f"{args.node}: retired {', '.join(dropped) or 'nothing'}")
    return 0


# -- clients --------------------------------------------------------------------------
def _report_error(error: grpc.RpcError) -> int:
    info = error_info(error)
    code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
    reason = f" [{info.reason}]" if info else ""
    details = error.details() if isinstance(error, grpc.Call) else ""
    print(f"refused: {code}{reason}: {details}", file=sys.stderr)
    return 2


def submit_change(network: dict[str, Any], change: common_pb2.Change) -> bool:
    """Enter `change` at its municipality's CS as that municipality's register system."""
    code = change.municipality_code
    with connect(network, f"cs-{code}", f"register-{code}") as channel:
        reply = cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=change), timeout=10
        )
    return bool(reply.duplicate)


def cmd_submit(args: argparse.Namespace) -> int:
    """Enter a change read from a JSON file (protobuf JSON of juki.v1.Change)."""
    network = _load_network(args.network)
    change = json_format.Parse(args.change_file.read_text(encoding="utf-8"), common_pb2.Change())
    try:
        duplicate = submit_change(network, change)
    except grpc.RpcError as error:
        return _report_error(error)
    print(f"accepted change {change.change_id}{' (duplicate)' if duplicate else ''}")
    return 0


def node_statuses(network: dict[str, Any]) -> list[admin_pb2.GetNodeStatusResponse]:
    """GetNodeStatus of every node, as the operator."""
    replies = []
    for node in network["nodes"]:
        with connect(network, node["name"], "operator") as channel:
            replies.append(
                admin_grpc.NodeAdminServiceStub(channel).GetNodeStatus(
                    admin_pb2.GetNodeStatusRequest(), timeout=5
                )
            )
    return replies


def cmd_status(args: argparse.Namespace) -> int:
    """Print every node's counts, outbox and certificate expiry."""
    network = _load_network(args.network)
    try:
        replies = node_statuses(network)
    except grpc.RpcError as error:
        return _report_error(error)
    print(f"{'node':<16}{'residents':>10}{'applied':>9}{'pending':>9}{'rejected':>9}  cert left")
    for r in replies:
        hours = r.certificate_seconds_left / 3600
        print(
            f"{r.node_name:<16}{r.resident_count:>10}{r.applied_change_count:>9}"
            f"{r.outbox_pending_count:>9}{r.outbox_rejected_count:>9}  {hours:.1f} h"
        )
    return 0


# -- up ----------------------------------------------------------------------------------
def run_demo(network: dict[str, Any]) -> None:
    """The main job: a birth entered at 横浜市's CS reaches the national server."""
    national = next(n for n in network["nodes"] if n["role"] == "national")
    before = {r.node_name: r.applied_change_count for r in node_statuses(network)}
    change = synthetic.birth("141003", random.Random())  # noqa: S311 - synthetic person
    submit_change(network, change)
    print(f"demo: birth entered at cs-141003 as change {change.change_id}")
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    while time.monotonic() < deadline:
        after = {r.node_name: r.applied_change_count for r in node_statuses(network)}
        if after[national["name"]] > before[national["name"]]:
            for name in ("cs-141003", "prefecture-14", national["name"]):
                print(f"demo:   {name:<14} applied changes {before[name]} -> {after[name]}")
            print(
                f"demo: the change is one trace; spans are in {national['trace_file']} and "
                "the other nodes' spans.jsonl"
            )
            return
        time.sleep(0.2)
    print("demo: the change has not reached the national server yet; see `juki-net status`")


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
        print(f"juki-net: {len(network['nodes'])} nodes up; state in {net.dir}")
        for node in network["nodes"]:
            print(f"  {node['name']:<15} {node['address']:<17} {node['spiffe_id']}")
        print(f"network description: {net.dir / 'network.json'}\n\ngrpcurl commands:")
        print("\n".join(grpcurl_commands(network)))
        print()
        if not args.no_demo:
            run_demo(network)
        print("\nrunning; press Ctrl-C to stop")
        sys.stdout.flush()
        done.wait()
    finally:
        print("stopping…")
        net.stop()
    return 0


# -- argument parsing ----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The juki-net argument parser."""
    parser = argparse.ArgumentParser(prog="juki-net", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the local network in the foreground")
    up.add_argument("--state-dir", type=Path, required=True)
    up.add_argument("--no-demo", action="store_true", help="skip the demo birth")
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="run one node")
    serve.add_argument("--config", type=Path, required=True)
    serve.set_defaults(func=cmd_serve)

    pki_cmd = sub.add_parser("pki", help="development PKI").add_subparsers(
        dest="pki", required=True
    )
    init = pki_cmd.add_parser("init-ca", help="create a CA and trust bundle")
    init.add_argument("--dir", type=Path, required=True)
    init.add_argument("--name", default="juki-net development CA")
    init.add_argument("--days", type=float, default=365)
    init.set_defaults(func=cmd_pki_init_ca)
    issue = pki_cmd.add_parser("issue", help="issue a certificate for a SPIFFE ID")
    issue.add_argument("--ca-dir", type=Path, required=True)
    issue.add_argument("--spiffe-id", required=True)
    issue.add_argument("--out", type=Path, required=True)
    issue.add_argument("--stem", required=True, help="file name stem: STEM.crt, STEM.key")
    issue.add_argument("--hours", type=float, default=24)
    issue.add_argument("--dns", action="append", default=[])
    issue.add_argument("--ip", action="append", default=[])
    issue.set_defaults(func=cmd_pki_issue)
    inspect = pki_cmd.add_parser("inspect", help="describe a certificate")
    inspect.add_argument("file", type=Path)
    inspect.set_defaults(func=cmd_pki_inspect)

    keys_cmd = sub.add_parser("keys", help="sealing keys of a local network's nodes")
    keys_sub = keys_cmd.add_subparsers(dest="keys", required=True)
    for verb, func, text in (
        ("rotate", cmd_keys_rotate, "publish new sealing keys beside the old"),
        ("retire", cmd_keys_retire, "remove superseded sealing keys"),
    ):
        p = keys_sub.add_parser(verb, help=text)
        p.add_argument("--state-dir", type=Path, required=True)
        p.add_argument("--node", required=True, help="node name, e.g. prefecture-14")
        p.set_defaults(func=func)

    submit = sub.add_parser("submit", help="enter a change at a CS (as its register system)")
    submit.add_argument("--network", type=Path, required=True)
    submit.add_argument("change_file", type=Path)
    submit.set_defaults(func=cmd_submit)

    status = sub.add_parser("status", help="every node's status (as the operator)")
    status.add_argument("--network", type=Path, required=True)
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `juki-net` console command."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
