"""The `juki-net` command: run the local network or one node, manage the PKI, enter changes.

Subcommands::

    juki-net up --state-dir DIR           run the local network and its demo
    juki-net serve --config FILE          run one node (what `up` starts per node)
    juki-net pki init-ca|issue|renew|revoke|crl|rollover|inspect …   PKI folder operations
    juki-net net renew|revoke|rollover --state-dir DIR …             the same on a local network
    juki-net keys rotate|retire …         sealing-key rotation of a local network's node
    juki-net submit --network FILE …      enter a change at a CS as its register system
    juki-net status --network FILE        every node's status, as the operator
    juki-net query --network FILE --as CLIENT --task T KEY…         one provision query
    juki-net bulk --network FILE --as CLIENT --task T --in CSV --out JSONL   bulk provision
    juki-net disclose|stats|approve --network FILE …                 operator provision RPCs
    juki-net load --config FILE --count N   load synthetic residents into a node's store
    juki-net retention --config FILE        purge what is past its retention period
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
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from google.protobuf import json_format

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import node_admin_service_pb2 as admin_pb2
from juki.v1 import node_admin_service_pb2_grpc as admin_grpc
from juki.v1 import provision_service_pb2 as admin_pb
from jukinet.client import calls as clients
from jukinet.client.calls import submit_change
from jukinet.core.config import load_node_config
from jukinet.core.errors import error_info
from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork, connect, grpcurl_commands
from jukinet.dev.localpki import LocalPki, RolloverError
from jukinet.provision import log as provision_log
from jukinet.provision.catalogue import ITEM_NAMES
from jukinet.runtime import retention
from jukinet.sealing import keys
from jukinet.storage import as_utc, open_database
from jukinet.trust import pki

DEMO_TIMEOUT_S = 60.0
RENEW_CHECK_S = 30.0


def _load_network(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- serve ---------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    """Run one node until SIGINT/SIGTERM."""
    from jukinet.runtime.node import serve
    from services import spec_for

    config = load_node_config(args.config)
    serve(config, spec_for(config.identity.role))
    return 0


# -- pki ------------------------------------------------------------------------------
# Generic operations on a PKI folder (ca.crt/ca.key, bundle.pem, crl.pem, revoked.json;
# see localpki.py). For a local network the folder is DIR/pki.
def cmd_pki_init_ca(args: argparse.Namespace) -> int:
    """Create a CA, trust bundle and CRL in --dir (refuses to overwrite a CA)."""
    if (args.dir / "ca.key").exists():
        print(f"{args.dir / 'ca.key'} exists; refusing to overwrite a CA", file=sys.stderr)
        return 1
    LocalPki(args.dir).ensure_ca()
    print(f"CA written to {args.dir}/ca.crt (key 0600), bundle.pem and crl.pem beside it")
    return 0


def cmd_pki_issue(args: argparse.Namespace) -> int:
    """Issue a certificate for a SPIFFE ID, signed by the PKI's signing CA."""
    identity = Identity.parse(args.spiffe_id)
    cert, key = LocalPki(args.pki_dir).issue(
        identity,
        args.out,
        args.stem,
        lifetime=dt.timedelta(hours=args.hours),
        dns_names=args.dns,
        ip_addresses=args.ip,
    )
    print(f"issued {identity} -> {cert} (key {key}, 0600)")
    return 0


def cmd_pki_renew(args: argparse.Namespace) -> int:
    """New key and certificate for the same identity, names and lifetime, beside the old."""
    old = pki.load_certificate(args.cert)
    dns_names, ip_addresses = pki.names_of(old)
    cert, key = LocalPki(args.pki_dir).issue(
        Identity.parse(pki.spiffe_id_of(old)),
        args.cert.parent,
        args.cert.stem,
        lifetime=old.not_valid_after_utc - old.not_valid_before_utc,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
    )
    print(f"renewed {cert} (key {key}); serving nodes pick it up on their next handshake")
    return 0


def cmd_pki_revoke(args: argparse.Namespace) -> int:
    """Revoke a certificate and publish the CRLs."""
    serial = LocalPki(args.pki_dir).revoke(args.cert)
    print(f"revoked serial {serial:x}; {args.pki_dir / 'crl.pem'} updated")
    return 0


def cmd_pki_crl(args: argparse.Namespace) -> int:
    """Re-sign the CRLs (fresh nextUpdate); run before they go stale."""
    LocalPki(args.pki_dir).write_crls()
    print(f"{args.pki_dir / 'crl.pem'} re-signed")
    return 0


def cmd_pki_rollover(args: argparse.Namespace) -> int:
    """Begin (trust old + new CA) or finish (drop the old CA) a CA rollover."""
    local = LocalPki(args.pki_dir)
    try:
        if args.step == "begin":
            local.begin_rollover()
        else:
            local.finish_rollover(args.in_use)
    except RolloverError as error:
        print(f"rollover refused: {error}", file=sys.stderr)
        return 1
    print(f"rollover {args.step}: bundle now trusts {len(local.trusted())} CA(s)")
    return 0


def describe_certificate(path: Path, bundle: Path | None = None) -> dict[str, str]:
    """What an operator needs to know about a certificate file (and its chain, given a bundle)."""
    cert = pki.load_certificate(path)
    left = cert.not_valid_after_utc - pki.now()
    facts = {
        "spiffe_id": "(CA)" if pki.is_ca(cert) else pki.spiffe_id_of(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "seconds_left": str(int(left.total_seconds())),
    }
    if bundle is not None:
        chain = pki.issuing_ca(cert, keys.load_bundle(bundle))
        facts["chains_to_bundle"] = "yes" if chain is not None else "NO"
        if chain is not None:
            facts["issuer_fingerprint"] = keys.fingerprint(chain)
    return facts


def cmd_pki_inspect(args: argparse.Namespace) -> int:
    """Print a certificate's identity, serial, validity (and chain) as JSON."""
    print(json.dumps(describe_certificate(args.file, args.bundle), indent=2))
    return 0


# -- local network certificate lifecycle ----------------------------------------------
def cmd_net_renew(args: argparse.Namespace) -> int:
    """Renew node (and client) certificates of a local network."""
    net = LocalNetwork(args.state_dir)
    net.load()
    if args.node:
        for name in args.node:
            net.issue_node_certificate(name)
    else:
        net.renew_all()
    print(f"renewed {', '.join(args.node) if args.node else 'every node and client certificate'}")
    return 0


def cmd_net_revoke(args: argparse.Namespace) -> int:
    """Revoke a local network node's certificate."""
    serial = LocalNetwork(args.state_dir).revoke_node(args.node)
    print(f"revoked {args.node} (serial {serial:x}); every node refuses it from its next call")
    return 0


def cmd_net_rollover(args: argparse.Namespace) -> int:
    """CA rollover of a local network: begin, then `net renew`, then finish."""
    net = LocalNetwork(args.state_dir)
    try:
        if args.step == "begin":
            net.rollover_begin()
        else:
            net.rollover_finish()
    except RolloverError as error:
        print(f"rollover refused: {error}", file=sys.stderr)
        return 1
    hint = "; now run `juki-net net renew` then `rollover finish`" if args.step == "begin" else ""
    print(f"rollover {args.step} done{hint}")
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
def _status_of(error: grpc.RpcError) -> str:
    """'CODE [REASON]' of a failed call (the reason from its ErrorInfo, if any)."""
    info = error_info(error)
    code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
    return f"{code} [{info.reason}]" if info else code


def _report_error(error: grpc.RpcError) -> int:
    details = error.details() if isinstance(error, grpc.Call) else ""
    print(f"refused: {_status_of(error)}: {details}", file=sys.stderr)
    return 2


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
    print(
        f"{'node':<16}{'residents':>10}{'fuhyo':>7}{'applied':>9}{'pending':>9}{'rejected':>9}"
        "  cert left"
    )
    for r in replies:
        hours = r.certificate_seconds_left / 3600
        print(
            f"{r.node_name:<16}{r.resident_count:>10}{r.fuhyo_count:>7}{r.applied_change_count:>9}"
            f"{r.outbox_pending_count:>9}{r.outbox_rejected_count:>9}  {hours:.1f} h"
        )
    return 0


# -- provision -------------------------------------------------------------------------
def cmd_query(args: argparse.Namespace) -> int:
    """One provision query as an organ or agency; prints the answer as JSON."""
    network = _load_network(args.network)
    four = clients.four_information(
        name_kana=args.kana,
        name_kanji=args.kanji,
        birth_date=args.birth_date,
        sex=args.sex,
        municipality_code=args.municipality,
        address_text=args.address_text,
    )
    items = [i for i in args.items.split(",") if i]
    q = clients.query(
        args.task, juminhyo_code=args.code, my_number=args.my_number, four=four, items=items
    )
    try:
        reply = clients.ask(network, args.client, q)
    except grpc.RpcError as error:
        return _report_error(error)
    print(json_format.MessageToJson(reply, ensure_ascii=False, preserving_proto_field_name=True))
    return 0


def cmd_bulk(args: argparse.Namespace) -> int:
    """Bulk provision: a CSV of keys in, JSON lines out (one per row)."""
    network = _load_network(args.network)
    with args.input.open(encoding="utf-8", newline="") as source:
        rows = list(clients.read_bulk_file(source, args.task))
    answers = clients.bulk(network, args.client, args.task, rows, approval_id=args.approval)
    try:
        count = clients.write_bulk_results(answers, args.output)
    except grpc.RpcError as error:
        return _report_error(error)
    print(f"{count} rows answered; results in {args.output}")
    return 0


def cmd_disclose(args: argparse.Namespace) -> int:
    """Print the disclosure document of one person (as the operator)."""
    network = _load_network(args.network)
    try:
        with clients.admin(network, args.node) as stub:
            reply = stub.DiscloseRecord(
                admin_pb.DiscloseRecordRequest(juminhyo_code=args.code), timeout=10
            )
    except grpc.RpcError as error:
        return _report_error(error)
    print(reply.document)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print provision statistics of a fiscal year (table, or CSV with --csv)."""
    network = _load_network(args.network)
    try:
        with clients.admin(network, args.node) as stub:
            reply = stub.GetProvisionStatistics(
                admin_pb.GetProvisionStatisticsRequest(fiscal_year=args.fiscal_year), timeout=10
            )
    except grpc.RpcError as error:
        return _report_error(error)
    print(reply.csv if args.csv else reply.table, end="")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Record an approval for a bulk provision above the threshold; prints its id."""
    network = _load_network(args.network)
    try:
        with clients.admin(network, args.node) as stub:
            reply = stub.ApproveBulkProvision(
                admin_pb.ApproveBulkProvisionRequest(
                    recipient=args.recipient, task_id=args.task, max_rows=args.max_rows
                ),
                timeout=10,
            )
    except grpc.RpcError as error:
        return _report_error(error)
    print(reply.approval_id)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    """Load synthetic residents straight into a node's store."""
    config = load_node_config(args.config)
    db = open_database(config.database_url)
    try:
        loaded = synthetic.load_residents(db, args.prefecture, args.count, seed=args.seed)
    finally:
        db.dispose()
    print(
        f"loaded {loaded.count} residents of prefecture {args.prefecture}: "
        f"written in {loaded.writing_s:.1f} s (made up in {loaded.generating_s:.1f} s)"
    )
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Purge what is past its retention period (as of --now, default the present)."""
    config = load_node_config(args.config)
    db = open_database(config.database_url)
    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.UTC)
    try:
        with db.transaction() as conn:
            purged = retention.purge(conn, as_utc(now))
    finally:
        db.dispose()
    print(
        f"purged {purged.versions} superseded versions, {purged.persons} removed persons, "
        f"{purged.provisions} provision-log entries, {purged.outbox_rows} outbox rows"
    )
    return 0


# -- up ----------------------------------------------------------------------------------
def demo_life(rng: random.Random) -> list[common_pb2.Change]:
    """A synthetic resident's life at 横浜市: birth, move, name change (旧氏), emigration."""
    born = synthetic.birth("141003", rng)
    moved = synthetic.follow(born, common_pb2.CHANGE_REASON_MOVE_WITHIN, rng=rng)
    moved.record.address.text = "港町2丁目3番"
    renamed = synthetic.follow(moved, common_pb2.CHANGE_REASON_NAME_CHANGE, rng=rng)
    renamed.record.former_surname.kanji = renamed.record.name_kanji.split()[0]
    renamed.record.former_surname.kana = renamed.record.name_kana.split()[0]
    renamed.record.name_kanji = "川口 " + renamed.record.name_kanji.split()[1]
    renamed.record.name_kana = "カワグチ " + renamed.record.name_kana.split()[1]
    emigrated = synthetic.follow(renamed, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    return [born, moved, renamed, emigrated]


def applied_counts(network: dict[str, Any]) -> dict[str, int]:
    """Applied-change count of every node, by name (from GetNodeStatus, as the operator)."""
    return {r.node_name: r.applied_change_count for r in node_statuses(network)}


def _reach_national(
    network: dict[str, Any],
    changes: Sequence[Any],
    submit: Callable[[dict[str, Any], Any], bool] = submit_change,
) -> dict[str, int]:
    """Enter `changes` (with `submit`) and wait until the national server applied them.

    Returns every node's applied count before.
    """
    before = applied_counts(network)
    for change in changes:
        submit(network, change)
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    while applied_counts(network)["national"] < before["national"] + len(changes):
        if time.monotonic() > deadline:
            raise TimeoutError("the changes did not reach the national server in time")
        time.sleep(0.2)
    return before


def demo_resident_life(network: dict[str, Any]) -> None:
    """A resident's life entered at 横浜市's CS reaches the national server."""
    life = demo_life(random.Random())  # noqa: S311 - a synthetic person
    for change in life:
        reason = common_pb2.ChangeReason.Name(change.reason).removeprefix("CHANGE_REASON_")
        print(f"demo: {reason:<12} to be entered at cs-141003 (change {change.change_id})")
    before = _reach_national(network, life)
    after = applied_counts(network)
    for name in ("cs-141003", "prefecture-14", "national"):
        print(f"demo:   {name:<14} applied changes {before[name]} -> {after[name]}")
    national = next(n for n in network["nodes"] if n["role"] == "national")
    print(
        f"demo: each change is one trace CS -> prefecture -> national; spans are in "
        f"{national['trace_file']} and the other nodes' spans.jsonl"
    )


def demo_provision(network: dict[str, Any]) -> None:
    """Organs ask under the task catalogue: lawful queries answered, unlawful ones refused."""
    rng = random.Random()  # noqa: S311 - synthetic persons
    here, there = synthetic.birth("141003", rng), synthetic.birth("131016", rng)
    _reach_national(network, [here, there])
    organ = "organ-14-passport-centre"
    person = here.record
    four = clients.four_information(name_kana=person.name_kana, birth_date=person.birth_date)
    answer = clients.ask(network, organ, clients.query("pref5-passport", four=four))
    items = ",".join(ITEM_NAMES[i] for i in answer.records[0].items) if answer.records else ""
    print(f"demo: {organ}, task pref5-passport (旅券法), by 4 information (kana + birth date):")
    print(f"demo:   answered by prefecture-14: {len(answer.records)} record, items {items}")
    answer = clients.ask(
        network,
        organ,
        clients.query("pref5-passport", juminhyo_code=there.record.juminhyo_code),
    )
    print("demo:   a 東京都 resident by 住民票コード (別表第3, wide-area):")
    print(
        f"demo:   answered by the national server: {answer.answered_by_national}, "
        f"{len(answer.records)} record"
    )
    unlawful = (
        (
            "the My Number under the 旅券法 task",
            organ,
            clients.query(
                "pref5-passport", juminhyo_code=person.juminhyo_code, items=["my_number"]
            ),
        ),
        (
            "a tax task by the NPO office",
            "organ-14-npo-office",
            clients.query("pref5-prefectural-tax", my_number=person.my_number),
        ),
        (
            "a 4-information search by name alone",
            organ,
            clients.query(
                "pref5-passport", four=clients.four_information(name_kana=person.name_kana)
            ),
        ),
    )
    for what, client, q in unlawful:
        try:
            clients.ask(network, client, q)
            print(f"demo:   {what}: ANSWERED (unexpected)")
        except grpc.RpcError as error:
            print(f"demo:   {what}: refused {_status_of(error)}")
    with clients.admin(network, "prefecture-14") as stub:
        disclosed = stub.DiscloseRecord(
            admin_pb.DiscloseRecordRequest(juminhyo_code=person.juminhyo_code), timeout=10
        )
        year = provision_log.fiscal_year(dt.datetime.now(dt.UTC))
        stats = stub.GetProvisionStatistics(
            admin_pb.GetProvisionStatisticsRequest(fiscal_year=year), timeout=10
        )
    print(f"demo: disclosure for the person lists {disclosed.provision_count} provision(s)")
    print("demo: provision statistics of prefecture-14 (juki-net stats):")
    print(stats.table)


def demo_fuhyo(network: dict[str, Any]) -> None:
    """An emigrant's fuhyo record with My Number under a lawful task; refused under another."""
    rng = random.Random()  # noqa: S311 - a synthetic person
    born = synthetic.birth("141003", rng)
    left = synthetic.follow(born, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    entry = synthetic.fuhyo_entry(born, rng)
    abroad = synthetic.fuhyo_follow(entry, fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION, rng)
    _reach_national(network, [born, left])
    _reach_national(network, [entry, abroad], submit=clients.submit_fuhyo_change)
    print("demo: fuhyo: ENTRY and EMIGRATION entered at cs-141003 -> fuhyo-14 -> national")
    tax, passport = "organ-14-tax-office", "organ-14-passport-centre"
    code = born.record.juminhyo_code
    q = clients.query("fuhyo5-prefectural-tax", juminhyo_code=code)
    (found,) = clients.ask_fuhyo(network, tax, q).records
    status = fuhyo_pb.FuhyoStatus.Name(found.record.status).removeprefix("FUHYO_STATUS_")
    number = "received (12 digits)" if found.my_number else f"withheld {found.my_number_withheld}"
    print(f"demo: {tax}, task fuhyo5-prefectural-tax (地方税法, My Number Act), by 住民票コード:")
    print(f"demo:   fuhyo record: status {status}, last domestic address kept; My Number {number}")
    print("demo:   (via the narrow link fuhyo-14 -> prefecture-14; one trace, see spans.jsonl)")
    confirmed = clients.confirm_my_number(network, tax, q.request_id)
    print(f"demo:   delivery confirmed; fuhyo-14's temporary copy deleted: {confirmed}")
    unlawful = clients.query("fuhyo5-passport", juminhyo_code=code, items=["my_number"])
    try:
        clients.ask_fuhyo(network, passport, unlawful)
        print(f"demo: {passport}, the My Number under fuhyo5-passport: ANSWERED (unexpected)")
    except grpc.RpcError as error:
        print(f"demo: {passport}, the My Number under fuhyo5-passport: refused {_status_of(error)}")


def run_demo(network: dict[str, Any]) -> None:
    """The main job: a resident's life reaches national; organs' queries answered or refused;
    an emigrant's fuhyo record with My Number through the narrow link."""
    try:
        demo_resident_life(network)
        demo_provision(network)
        demo_fuhyo(network)
    except TimeoutError as error:
        print(f"demo: {error}; see `juki-net status`")


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
        # Node certificates are renewed at half their lifetime, CRLs re-signed at half theirs.
        while not done.wait(RENEW_CHECK_S):
            renewed = net.renew_due(pki.now())
            if renewed:
                print(f"renewed certificates of {', '.join(renewed)}")
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

    pki_cmd = sub.add_parser("pki", help="PKI folder operations").add_subparsers(
        dest="pki", required=True
    )
    init = pki_cmd.add_parser("init-ca", help="create a CA, trust bundle and CRL")
    init.add_argument("--dir", type=Path, required=True)
    init.set_defaults(func=cmd_pki_init_ca)
    issue = pki_cmd.add_parser("issue", help="issue a certificate for a SPIFFE ID")
    issue.add_argument("--pki-dir", type=Path, required=True)
    issue.add_argument("--spiffe-id", required=True)
    issue.add_argument("--out", type=Path, required=True)
    issue.add_argument("--stem", required=True, help="file name stem: STEM.crt, STEM.key")
    issue.add_argument("--hours", type=float, default=24)
    issue.add_argument("--dns", action="append", default=[])
    issue.add_argument("--ip", action="append", default=[])
    issue.set_defaults(func=cmd_pki_issue)
    for verb, func, text in (
        ("renew", cmd_pki_renew, "new key + certificate for a certificate's identity"),
        ("revoke", cmd_pki_revoke, "revoke a certificate (updates crl.pem)"),
    ):
        p = pki_cmd.add_parser(verb, help=text)
        p.add_argument("--pki-dir", type=Path, required=True)
        p.add_argument("--cert", type=Path, required=True)
        p.set_defaults(func=func)
    crl = pki_cmd.add_parser("crl", help="re-sign the CRLs")
    crl.add_argument("--pki-dir", type=Path, required=True)
    crl.set_defaults(func=cmd_pki_crl)
    roll = pki_cmd.add_parser("rollover", help="CA rollover: begin | finish")
    roll.add_argument("step", choices=["begin", "finish"])
    roll.add_argument("--pki-dir", type=Path, required=True)
    roll.add_argument("--in-use", type=Path, nargs="*", default=[], help="certificates to check")
    roll.set_defaults(func=cmd_pki_rollover)
    inspect = pki_cmd.add_parser("inspect", help="describe a certificate")
    inspect.add_argument("file", type=Path)
    inspect.add_argument("--bundle", type=Path, help="also check it chains to this bundle")
    inspect.set_defaults(func=cmd_pki_inspect)

    net_cmd = sub.add_parser("net", help="certificate lifecycle of a local network")
    net_sub = net_cmd.add_subparsers(dest="net", required=True)
    renew = net_sub.add_parser("renew", help="renew certificates (all, or --node …)")
    renew.add_argument("--node", action="append", default=[])
    renew.set_defaults(func=cmd_net_renew)
    revoke = net_sub.add_parser("revoke", help="revoke a node's certificate")
    revoke.add_argument("--node", required=True)
    revoke.set_defaults(func=cmd_net_revoke)
    rollover = net_sub.add_parser("rollover", help="CA rollover: begin | finish")
    rollover.add_argument("step", choices=["begin", "finish"])
    rollover.set_defaults(func=cmd_net_rollover)
    for p in (renew, revoke, rollover):
        p.add_argument("--state-dir", type=Path, required=True)

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

    query_cmd = sub.add_parser("query", help="one provision query (as an organ or agency)")
    query_cmd.add_argument("--code", default="", help="住民票コード")
    query_cmd.add_argument("--my-number", default="")
    query_cmd.add_argument("--kana", default="", help="name in katakana (4 information)")
    query_cmd.add_argument("--kanji", default="", help="name in kanji (4 information)")
    query_cmd.add_argument("--birth-date", default="")
    query_cmd.add_argument("--sex", default="", choices=["", "male", "female"])
    query_cmd.add_argument("--municipality", default="", help="address municipality code")
    query_cmd.add_argument("--address-text", default="", help="beginning of the address")
    query_cmd.add_argument("--items", default="", help="comma-separated items (default: all)")
    query_cmd.set_defaults(func=cmd_query)
    bulk = sub.add_parser("bulk", help="bulk provision from a CSV file")
    bulk.add_argument("--in", dest="input", type=Path, required=True)
    bulk.add_argument("--out", dest="output", type=Path, required=True)
    bulk.add_argument("--approval", default="", help="approval id (above the threshold)")
    bulk.set_defaults(func=cmd_bulk)
    for p in (query_cmd, bulk):
        p.add_argument("--network", type=Path, required=True)
        p.add_argument(
            "--as", dest="client", required=True, help="client, e.g. organ-14-tax-office"
        )
        p.add_argument("--task", required=True, help="task id of the catalogue")

    disclose = sub.add_parser("disclose", help="a person's disclosure document (operator)")
    disclose.add_argument("--code", required=True, help="住民票コード")
    disclose.set_defaults(func=cmd_disclose)
    stats = sub.add_parser("stats", help="provision statistics of a fiscal year (operator)")
    stats.add_argument("--fiscal-year", type=int, required=True)
    stats.add_argument("--csv", action="store_true")
    stats.set_defaults(func=cmd_stats)
    approve = sub.add_parser("approve", help="approve one bulk provision (operator)")
    approve.add_argument("--recipient", required=True, help="SPIFFE ID of the organ")
    approve.add_argument("--task", required=True)
    approve.add_argument("--max-rows", type=int, required=True)
    approve.set_defaults(func=cmd_approve)
    for p in (disclose, stats, approve):
        p.add_argument("--network", type=Path, required=True)
        p.add_argument("--node", default="prefecture-14")

    load = sub.add_parser("load", help="load synthetic residents into a node's store")
    load.add_argument("--prefecture", required=True, help="2-digit prefecture code")
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--seed", type=int, default=0)
    load.set_defaults(func=cmd_load)
    keep = sub.add_parser("retention", help="purge what is past its retention period")
    keep.add_argument("--now", default="", help="ISO time to purge as of (default: now)")
    keep.set_defaults(func=cmd_retention)
    for p in (load, keep):
        p.add_argument("--config", type=Path, required=True, help="the node's config.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `juki-net` console command."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
