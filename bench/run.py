"""The one benchmark command: every safeguard's cost as a ratio to a bare mTLS echo, same run.

Usage: python bench/run.py [--residents N] [--changes C] [--per-call P] [--queries Q]
                           [--link-calls L] [--seal-seconds S] [--json FILE]

One local network (national, prefecture-14, fuhyo-14, cs-141003; SQLite, development PKI,
tracing to span files, everything on) is prepared, prefecture-14 is loaded with N synthetic
residents (P4), then measured:

- baseline: a bare unary echo over the same mutual TLS (prefecture-14's certificate, an organ's
  client certificate), sequential and 16 concurrent callers;
- P1: C births entered at cs-141003 by up to 16 concurrent register-system callers, P per
  SubmitChanges call (and, for comparison, up to 2,000 one per call), until all are committed at
  national (sealed, logged, traced, durable): changes/s end to end, and the p50/p99 from entry
  at the CS to commit at national;
- P2: QueryResidents at prefecture-14 by 住民票コード, My Number and 4 information;
- P3: the narrow My Number round trip organ → fuhyo-14 → prefecture-14 (QueryFuhyoRecords
  under a My Number Act task, a new request id each time, so every call crosses the link);
- P5 (bench/consistency.py): the consistency check of one municipality of N residents with 10
  planted differences, against a full transfer of the same records (SQLite);
- sealing (bench/sealing.py) per message and per batch, tracing per span, and what each layer
  of a node's server stack costs per call (bench/layers.py).

Targets (issue #7), each against the baseline of this run: P1 rate >= 1.0x the concurrent echo
rate; P2 p99 <= 2x and P3 p99 <= 3x the bare p99; P4 1M residents in <= 120 s; P5 <= 1% of
the full transfer's bytes.
Quick by default; the full run is
``--residents 1000000 --changes 20000 --queries 2000 --link-calls 1000
--consistency-residents 1000000``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import arguments
import consistency
import floors
import layers
import provision
import sealing
from sqlalchemy import create_engine, func, select

from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from jukinet.client import calls as clients
from jukinet.core.clock import SYSTEM
from jukinet.core.identity import Role
from jukinet.core.telemetry import setup_tracing
from jukinet.dev import localpg, synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import NodePlan
from jukinet.provision import organ_query
from jukinet.storage import as_utc, postgres_bin
from jukinet.storage.schema import received_changes, resident_current

TOPOLOGY = (
    NodePlan(Role.NATIONAL),
    NodePlan(Role.PREFECTURE, "14", next_hop="national"),
    NodePlan(Role.FUHYO, "14", next_hop="national", link_hop="prefecture-14"),
    NodePlan(Role.CS, "141003", next_hop="prefecture-14", fuhyo_hop="fuhyo-14"),
)
WAIT_S = 600.0
ONE_PER_CALL_MAX = 2_000  # P1 one change per call, for comparison with batched entry


def _read_only(net: LocalNetwork, node: str) -> Any:
    url = net.node_info(node).database_url
    if url.startswith("sqlite:///"):
        return create_engine(f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true")
    return create_engine(url)


def _applied_at(net: LocalNetwork, node: str, change_ids: set[str]) -> dict[str, dt.datetime]:
    """When `node` decided each of `change_ids` that it has decided."""
    engine = _read_only(net, node)
    with engine.connect() as conn:
        rows = conn.execute(select(received_changes.c.change_id, received_changes.c.received_at))
        found = {cid: as_utc(at) for cid, at in rows if cid in change_ids}
    engine.dispose()
    return found


def fresh_births(net: LocalNetwork, count: int, rng: random.Random) -> list[common_pb2.Change]:
    """`count` births whose 住民票コード and My Number prefecture-14 has not stored yet.

    Synthetic identifiers are random: among 1M loaded residents, about two of 20,000 new ones
    collide, and the prefecture rightly refuses those (BIRTH_FOR_EXISTING_CODE,
    MY_NUMBER_IN_USE); they would never reach national.
    """
    engine = _read_only(net, "prefecture-14")
    births: list[common_pb2.Change] = []
    seen: set[str] = set()
    with engine.connect() as conn:
        while len(births) < count:
            batch = [synthetic.birth("141003", rng) for _ in range(min(1000, count - len(births)))]
            for column in (resident_current.c.juminhyo_code, resident_current.c.my_number):
                drawn = [getattr(c.record, column.name) for c in batch]
                seen.update(conn.execute(select(column).where(column.in_(drawn))).scalars())
            for change in batch:
                ids = {change.record.juminhyo_code, change.record.my_number}
                if not ids & seen:
                    births.append(change)
                seen |= ids
    engine.dispose()
    return births


def p1(net: LocalNetwork, count: int, per_call: int) -> dict[str, Any]:
    """Births entered concurrently at the CS, `per_call` per SubmitChanges, until all are
    committed at national."""
    births = fresh_births(net, count, random.Random(5 + per_call))
    calls = [births[i : i + per_call] for i in range(0, count, per_call)]
    entered: dict[str, float] = {}
    with net.client_channel("cs-141003", "register-141003") as channel:
        stub = cs_service_pb2_grpc.CsServiceStub(channel)

        def enter(i: int) -> None:
            at = time.time()
            entered.update((change.change_id, at) for change in calls[i])
            reply = stub.SubmitChanges(
                cs_service_pb2.SubmitChangesRequest(changes=calls[i]), timeout=120
            )
            assert all(r.outcome == common_pb2.CHANGE_OUTCOME_APPLIED for r in reply.results)

        began = time.time()
        at_cs = provision.measure(enter, len(calls), min(provision.CONCURRENCY, len(calls)))
    ids = set(entered)
    deadline = time.monotonic() + WAIT_S
    while len(done := _applied_at(net, "national", ids)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(done)} of {count} changes reached national")
        time.sleep(0.5)
    latencies = [done[cid].timestamp() - entered[cid] for cid in ids]
    took = max(at.timestamp() for at in done.values()) - began
    hop = _applied_at(net, "prefecture-14", ids)
    return {
        "changes": count,
        "per_call": per_call,
        "entry_at_cs": {**at_cs, "rate_per_s": at_cs["rate_per_s"] * count / len(calls)},
        "end_to_end": {**provision.percentiles(latencies), "rate_per_s": count / took},
        # Where the changes were each second (a stall shows as a run of small counts, and at
        # which hop): sent to the CS (its call began), decided at the prefecture, at national.
        "per_second": {
            "entered": _per_second(entered.values(), began),
            "at_prefecture": _per_second((at.timestamp() for at in hop.values()), began),
            "at_national": _per_second((at.timestamp() for at in done.values()), began),
        },
    }


def _per_second(times: Iterable[float], since: float) -> list[int]:
    """How many of `times` fell in each whole second after `since`."""
    counts = collections.Counter(int(t - since) for t in times)
    return [counts[second] for second in range(max(counts, default=-1) + 1)]


def _emigrants(net: LocalNetwork, count: int) -> list[str]:
    """`count` emigrants with a resident record at prefecture-14 and a fuhyo at fuhyo-14."""
    rng = random.Random(8)
    codes = []
    for born in fresh_births(net, count, rng):
        left = synthetic.follow(born, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
        entry = synthetic.fuhyo_entry(born, rng)
        abroad = synthetic.fuhyo_follow(entry, fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION, rng)
        for change in (born, left):
            clients.submit_change(net.info, change)
        for fuhyo in (entry, abroad):
            clients.submit_fuhyo_change(net.info, fuhyo)
        codes.append(born.record.juminhyo_code)
    return codes


def p3(net: LocalNetwork, calls: int) -> dict[str, dict[str, float]]:
    """The narrow link round trip, sequential and concurrent."""
    codes = _emigrants(net, 20)
    key_pem = net.info.client(provision.ORGAN).key.read_bytes()
    fuhyo = net.node_info("fuhyo-14").spiffe_id
    with net.client_channel("fuhyo-14", provision.ORGAN) as channel:
        stub = fuhyo_grpc.FuhyoServiceStub(channel)

        def ask(i: int) -> str:
            query = clients.query("fuhyo5-prefectural-tax", juminhyo_code=codes[i % len(codes)])
            # The organ signs each query (organ_query.py), as a real one does.
            signed = organ_query.sign_with_pem(
                query, audience=fuhyo, key_pem=key_pem, at=SYSTEM.now()
            )
            reply = stub.QueryFuhyoRecords(
                fuhyo_pb.QueryFuhyoRecordsRequest(query=query, signed=signed)
            )
            return reply.records[0].my_number if reply.records else ""

        deadline = time.monotonic() + WAIT_S
        while not all(ask(i) for i in range(len(codes))):  # until every hop has them
            if time.monotonic() > deadline:
                raise TimeoutError("the emigrants did not reach fuhyo-14 and prefecture-14")
            time.sleep(0.5)

        def call(i: int) -> None:
            assert ask(i), "no My Number came back"

        return {
            "sequential": provision.measure(call, calls, 1),
            "concurrent": provision.measure(call, calls, provision.CONCURRENCY),
        }


def tracing(spans: int) -> dict[str, float]:
    """Cost of one span exported to a span file, as every node does."""
    with tempfile.TemporaryDirectory() as tmp:
        costs = {}
        for label, trace_file in (("no_exporter", None), ("span_file", Path(tmp) / "s.jsonl")):
            tracer_provider = setup_tracing("bench", trace_file)
            tracer = tracer_provider.get_tracer("bench")
            began = time.perf_counter()
            for _ in range(spans):
                with tracer.start_as_current_span("bench.span", attributes={"juki.n": 1}):
                    pass
            costs[label] = (time.perf_counter() - began) / spans * 1e6
            tracer_provider.shutdown()
    return {"span_us": costs["span_file"], "span_without_export_us": costs["no_exporter"]}


def _report_national_count(net: LocalNetwork) -> None:
    """How many changes national decided in this run, to show nothing was skipped."""
    engine = _read_only(net, "national")
    with engine.connect() as conn:
        applied = conn.execute(select(func.count()).select_from(received_changes)).scalar_one()
    engine.dispose()
    print(f"national decided {applied:,} changes in this run")


def _row(label: str, figures: dict[str, float], ratio: str, target: str) -> str:
    return (
        f"{label:<42}{figures.get('p50_ms', 0):>9.2f}{figures.get('p99_ms', 0):>9.2f}"
        f"{figures.get('rate_per_s', 0):>10.0f}{ratio:>12}{target:>16}"
    )


def report(results: dict[str, Any], database: str) -> None:
    """The table: every figure with its ratio to its floor of this run (issue #18): P1 to the
    bare echo's rate, P2 to an echo that durably commits a row, P3 to two chained ones."""
    bare = results["baseline"]
    print(
        f"\n{'measurement':<42}{'p50 ms':>9}{'p99 ms':>9}{'rate/s':>10}{'ratio':>12}{'target':>16}"
    )
    for floor in ("", "durable_commit ", "chained_commit "):
        for mode in ("sequential", "concurrent"):
            figures = bare[floor.strip()][mode] if floor else bare[mode]
            print(_row(f"{floor or 'bare echo '}{mode}", figures, "", ""))
    p1_target = 1.0 if database == "sqlite" else 0.8
    for run in results["p1"]:
        e2e = run["end_to_end"]
        rate_ratio = e2e["rate_per_s"] / bare["concurrent"]["rate_per_s"]
        label = f"P1 {run['changes']:,} changes, {run['per_call']}/call"
        print(_row(f"{label}: entry", run["entry_at_cs"], "", ""))
        target = f"rate >= {p1_target}x"
        print(_row(f"{label}: at national", e2e, f"rate {rate_ratio:.2f}x", target))
    durable = bare.get("durable_commit", bare)
    for name, figures in results["p2"].items():
        mode = name.rsplit(" ", 1)[1]
        ratio = figures["p99_ms"] / durable[mode]["p99_ms"]
        print(_row(f"P2 {name}", figures, f"p99 {ratio:.2f}x", "p99 <= 1.5x dc"))
    chained = bare.get("chained_commit", bare)
    for mode, figures in results["p3"].items():
        ratio = figures["p99_ms"] / chained[mode]["p99_ms"]
        print(_row(f"P3 narrow link {mode}", figures, f"p99 {ratio:.2f}x", "p99 <= 2x cc"))
    p4 = results["p4"]
    per_million = p4["seconds"] * 1_000_000 / p4["residents"]
    print(
        f"\nP4 load: {p4['residents']:,} residents in {p4['seconds']:.1f} s "
        f"({p4['rows_per_s']:,.0f}/s, {p4['bytes_per_resident']:.0f} B/resident; "
        f"making them up took another {p4['generating_seconds']:.1f} s); "
        f"1M ≈ {per_million:.0f} s (target <= 120 s); Tokyo {p4['tokyo_minutes']:.1f} min / "
        f"{p4['tokyo_gb']:.1f} GB; nation {p4['nation_hours']:.1f} h / {p4['nation_gb']:.0f} GB"
    )


def report_shared(results: dict[str, Any], echo_p50_ms: float) -> None:
    """Tracing and sealing: measured once, in the benchmark's own process."""
    t = results["tracing"]
    echo_us = echo_p50_ms * 1e3
    print(
        f"\ntracing: {t['span_us']:.1f} µs per exported span ({t['span_us'] / echo_us:.2f}x of a "
        f"bare echo p50); without export {t['span_without_export_us']:.1f} µs"
    )
    print("sealing (per envelope; µs/record includes seal and open):")
    for r in results["sealing"]:
        print(
            f"  {r['signature']:<10}{r['records']:>5} records  seal {r['seal_ms']:>7} ms  "
            f"open {r['open_ms']:>7} ms  {r['per_record_us']:>8} µs/record"
        )


def measure_network(args: argparse.Namespace, database: str) -> dict[str, Any]:
    """Everything measured on one network, its nodes on `database` (sqlite or postgresql)."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        urls: dict[str, str] = {}
        if database == "postgresql":
            server = stack.enter_context(localpg.postgres_server())
            urls = {
                plan.name: localpg.create_database(server, plan.name.replace("-", "_"))
                for plan in TOPOLOGY
            }
        net = LocalNetwork(tmp, topology=TOPOLOGY, database_url=urls.__getitem__ if urls else None)
        net.prepare()
        results: dict[str, Any] = {"p4": provision.load(net, args.residents)}
        net.start()
        try:
            results["baseline"] = provision.baseline(net, args.queries)
            floor_database = (
                (lambda name: localpg.create_database(server, name))
                if database == "postgresql"
                else floors.sqlite_in(str(tmp))
            )
            results["baseline"].update(floors.floors(net, args.queries, floor_database))
            results["p2"] = provision.queries(net, args.queries)
            results["p3"] = p3(net, args.link_calls)
            results["p1"] = [
                p1(net, min(args.changes, ONE_PER_CALL_MAX), 1),
                p1(net, args.changes, args.per_call),
            ]
            _report_national_count(net)
        finally:
            net.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    count = arguments.count
    parser.add_argument("--residents", type=count, default=20_000, help="P4/P2 (full: 1000000)")
    parser.add_argument("--changes", type=count, default=2_000, help="P1 (full: 20000)")
    parser.add_argument("--per-call", type=count, default=500, help="P1 changes per call")
    parser.add_argument("--queries", type=count, default=400, help="P2 and baseline calls")
    parser.add_argument("--link-calls", type=count, default=200, help="P3 calls")
    parser.add_argument(
        "--seal-seconds", type=arguments.seconds, default=0.2, help="per sealing figure"
    )
    parser.add_argument(
        "--databases",
        type=arguments.databases,
        default=list(arguments.DATABASES),
        help="sqlite, postgresql or both, comma-separated; postgresql starts a local server "
        "(Debian's postgresql package)",
    )
    parser.add_argument(
        "--consistency-residents",
        type=arguments.at_least(consistency.CHANGED, " (P5 changes that many of them)"),
        default=20_000,
        help="P5: residents of the compared municipality (full: 1000000)",
    )
    parser.add_argument("--json", type=arguments.json_file, help="also write every figure as JSON")
    args = parser.parse_args()
    databases = args.databases
    if "postgresql" in databases and postgres_bin.bin_dir() is None:
        parser.error("PostgreSQL is not installed (apt-get install postgresql); --databases sqlite")
    results: dict[str, Any] = {"arguments": vars(args) | {"json": str(args.json)}}
    for database in databases:
        print(f"\n== {database} ==", flush=True)
        results[database] = measure_network(args, database)
    print("\n== P5 (SQLite) ==", flush=True)
    results["p5"] = consistency.run(args.consistency_residents)
    results["tracing"] = tracing(20_000)
    results["sealing"] = sealing.run(args.seal_seconds)
    results["layers"] = layers.run(args.queries)
    for database in databases:
        print(f"\n== {database} ==")
        report(results[database], database)
    consistency.report(results["p5"])
    report_shared(results, results[databases[0]]["baseline"]["sequential"]["p50_ms"])
    layers.report(results["layers"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
