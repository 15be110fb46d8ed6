"""`juki-net query|bulk|disclose|stats|approve|tasks`: provision under the task catalogue."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from google.protobuf import json_format

from juki.v1 import provision_service_pb2 as pb
from jukinet.cli.errors import UsageError, read_text
from jukinet.cli.parsing import Subcommands, add_network, command, load_network, names, positive
from jukinet.client import calls as clients
from jukinet.core.identity import Role
from jukinet.core.network import OPERATOR, NetworkDescription, NodeEntry
from jukinet.provision.catalogue import ITEMS, TABLES, default_catalogue

ADMIN_TIMEOUT_S = 10.0


def _key(args: argparse.Namespace) -> dict[str, object]:
    """The one search key the options give; UsageError for none or several."""
    four_given = any(
        (args.kana, args.kanji, args.birth_date, args.sex, args.municipality, args.address_text)
    )
    given = [k for k, v in (("--code", args.code), ("--my-number", args.my_number)) if v]
    given += ["4 information"] if four_given else []
    if len(given) != 1:
        raise UsageError(
            "give one search key: --code, --my-number, or 4 information "
            f"(--kana/--kanji with --birth-date and/or --municipality); got {len(given)}"
        )
    if not four_given:
        return {"juminhyo_code": args.code, "my_number": args.my_number}
    if args.address_text and not args.municipality:
        raise UsageError("--address-text needs --municipality")
    four = clients.four_information(
        name_kana=args.kana,
        name_kanji=args.kanji,
        birth_date=args.birth_date,
        sex=args.sex,
        municipality_code=args.municipality,
        address_text=args.address_text,
    )
    return {"four": four}


def cmd_query(args: argparse.Namespace) -> int:
    """One provision query as an organ or agency; prints the answer as JSON."""
    network = load_network(args)
    items = names(args.items, ITEMS, "item")
    q = clients.query(args.task, items=items, **_key(args))  # type: ignore[arg-type]
    ask = clients.ask_fuhyo if args.fuhyo else clients.ask
    reply = ask(network, args.client, q)
    print(json_format.MessageToJson(reply, ensure_ascii=False, preserving_proto_field_name=True))
    return 0


def cmd_bulk(args: argparse.Namespace) -> int:
    """Bulk provision: a CSV of keys in, JSON lines out (one per row)."""
    network = load_network(args)
    network.client(args.client)  # an unknown client before reading anything
    source = io.StringIO(read_text(args.input), newline="")
    try:
        rows = list(clients.read_bulk_file(source, args.task))
    except clients.BulkFileError as error:
        raise UsageError(f"{args.input}: {error}") from None
    answers = clients.bulk(
        network, args.client, args.task, rows, approval_id=args.approval, fuhyo=args.fuhyo
    )
    count = clients.write_bulk_results(answers, args.output)
    print(f"{count} rows answered; results in {args.output}")
    return 0


def _admin_node(network: NetworkDescription, args: argparse.Namespace) -> NodeEntry:
    """--node if given, else the prefecture server of the operator's own prefecture."""
    if args.node:
        return network.node(args.node)
    return network.node_of(Role.PREFECTURE, network.client(args.operator).identity.prefecture)


def cmd_disclose(args: argparse.Namespace) -> int:
    """Print the disclosure document of one person (as an operator)."""
    network = load_network(args)
    with clients.admin(network, _admin_node(network, args), args.operator) as stub:
        reply = stub.DiscloseRecord(
            pb.DiscloseRecordRequest(juminhyo_code=args.code), timeout=ADMIN_TIMEOUT_S
        )
    print(reply.document)
    if args.proofs:
        if not reply.proofs:
            raise UsageError("the node gave no proofs (it lists no provision)")
        args.proofs.write_text(reply.proofs + "\n", encoding="utf-8")
        print(f"{args.proofs}: the proofs, for juki-net audit verify-disclosure")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print provision statistics of a fiscal year (table, or CSV with --csv)."""
    network = load_network(args)
    with clients.admin(network, _admin_node(network, args), args.operator) as stub:
        reply = stub.GetProvisionStatistics(
            pb.GetProvisionStatisticsRequest(fiscal_year=args.fiscal_year),
            timeout=ADMIN_TIMEOUT_S,
        )
    print(reply.csv if args.csv else reply.table, end="")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Record an approval for a bulk provision above the threshold; prints its id."""
    network = load_network(args)
    with clients.admin(network, _admin_node(network, args), args.operator) as stub:
        reply = stub.ApproveBulkProvision(
            pb.ApproveBulkProvisionRequest(
                recipient=args.recipient, task_id=args.task, max_rows=args.max_rows
            ),
            timeout=ADMIN_TIMEOUT_S,
        )
    print(reply.approval_id)
    return 0


def _table_name(table: str) -> str:
    return "ordinance" if table == "ordinance" else f"別表第{table}"


def cmd_tasks(args: argparse.Namespace) -> int:
    """Print the task catalogue: what may be provided, to whom, under which law."""
    tasks = sorted(default_catalogue().tasks.values(), key=lambda t: (TABLES.index(t.table), t.id))
    for task in tasks:
        if args.record and task.record != args.record:
            continue
        flags = [task.record, f"My Number: {'yes' if task.my_number_act else 'no'}"]
        flags += ["wide-area (別表第3)"] if task.wide_area else []
        print(f"{task.id}  {_table_name(task.table)}  {task.law}  ({', '.join(flags)})")
        print(f"    {task.title}")
        role = "agencies" if task.recipient_role is Role.AGENCY else "organs"
        print(f"    {role}: {', '.join(sorted(task.recipients))}")
        print(f"    keys: {', '.join(sorted(task.keys))}")
        item_names = [n for n, v in ITEMS.items() if v in task.items]
        print(f"    items: {', '.join(item_names)}")
    return 0


def _client_options(parser: argparse.ArgumentParser) -> None:
    add_network(parser)
    parser.add_argument(
        "--as",
        dest="client",
        required=True,
        help="the client of the network description to ask as, e.g. organ-14-tax-office",
    )
    parser.add_argument("--task", required=True, help="task id of the catalogue (juki-net tasks)")


def _operator_options(parser: argparse.ArgumentParser) -> None:
    add_network(parser)
    parser.add_argument(
        "--operator", default=OPERATOR, help="the operator client to ask as (default: %(default)s)"
    )
    parser.add_argument(
        "--node", help="the node to ask (default: the operator's own prefecture server)"
    )


def add_commands(sub: Subcommands) -> None:
    """query, bulk, disclose, stats, approve, tasks."""
    query = command(
        sub,
        "query",
        summary="one provision query, as an organ or agency",
        details="One search key: a 住民票コード, a My Number (My Number Act tasks only), or 4 "
        "information (a name with a birth date and/or an address).",
        example="juki-net query --network .juki-state/network.json --as organ-14-passport-centre "
        "--task pref5-passport --code 20010090014",
        func=cmd_query,
    )
    _client_options(query)
    query.add_argument("--code", default="", help="住民票コード (11 digits)")
    query.add_argument("--my-number", default="", help="個人番号 (12 digits)")
    query.add_argument("--kana", default="", help="name in katakana (4 information)")
    query.add_argument("--kanji", default="", help="name in kanji (4 information)")
    query.add_argument("--birth-date", default="", help="YYYY-MM-DD (4 information)")
    query.add_argument(
        "--sex", default="", choices=["", "male", "female"], help="sex (4 information)"
    )
    query.add_argument("--municipality", default="", help="address municipality code (6 digits)")
    query.add_argument("--address-text", default="", help="beginning of the address text")
    query.add_argument(
        "--fuhyo",
        action="store_true",
        help="ask the organ's fuhyo server (附票; a fuhyo task, e.g. fuhyo5-prefectural-tax)",
    )
    query.add_argument(
        "--items",
        default="",
        help=f"comma-separated items (default: all the task allows): {', '.join(ITEMS)}",
    )
    bulk = command(
        sub,
        "bulk",
        summary="bulk provision: a CSV of search keys in, JSON lines out",
        details="Header line with juminhyo_code, my_number or the 4-information columns "
        f"({', '.join(clients.BULK_COLUMNS)}); one answer line per row, in order.",
        example="juki-net bulk --network .juki-state/network.json --as organ-14-tax-office "
        "--task pref5-prefectural-tax --in examples/bulk.csv --out results.jsonl",
        func=cmd_bulk,
    )
    _client_options(bulk)
    bulk.add_argument("--in", dest="input", type=Path, required=True, help="the CSV of keys")
    bulk.add_argument("--out", dest="output", type=Path, required=True, help="answers (JSONL)")
    bulk.add_argument("--approval", default="", help="approval id (above the threshold)")
    bulk.add_argument(
        "--fuhyo", action="store_true", help="fuhyo records, at the organ's fuhyo server"
    )

    disclose = command(
        sub,
        "disclose",
        summary="a person's disclosure document (開示), as an operator",
        example="juki-net disclose --network .juki-state/network.json --code 20010090014",
        func=cmd_disclose,
    )
    disclose.add_argument("--code", required=True, help="the person's 住民票コード")
    disclose.add_argument(
        "--proofs",
        type=Path,
        help="also write the provisions' inclusion proofs to this file (for the person)",
    )
    stats = command(
        sub,
        "stats",
        summary="provision statistics of a fiscal year, as an operator",
        example="juki-net stats --network .juki-state/network.json --fiscal-year 2026",
        func=cmd_stats,
    )
    stats.add_argument("--fiscal-year", type=int, required=True, help="年度, e.g. 2026")
    stats.add_argument("--csv", action="store_true", help="CSV instead of a table")
    approve = command(
        sub,
        "approve",
        summary="approve one bulk provision above the threshold, as an operator",
        example="juki-net approve --network .juki-state/network.json "
        "--recipient spiffe://juki.example/organ/14/tax-office "
        "--task pref5-prefectural-tax --max-rows 50000",
        func=cmd_approve,
    )
    approve.add_argument("--recipient", required=True, help="SPIFFE ID of the organ")
    approve.add_argument("--task", required=True, help="task id of the catalogue")
    approve.add_argument(
        "--max-rows", type=positive, required=True, help="rows the approval covers at most"
    )
    for p in (disclose, stats, approve):
        _operator_options(p)

    tasks = command(
        sub,
        "tasks",
        summary="the task catalogue: each task's law, recipients, keys, items, My Number",
        example="juki-net tasks --record fuhyo",
        func=cmd_tasks,
    )
    tasks.add_argument(
        "--record", choices=["resident", "fuhyo"], help="only tasks about this record"
    )
