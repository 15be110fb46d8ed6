"""P5 for bench/run.py: 整合性確認 of one municipality against a full transfer, same run.

A network of its own (national, prefecture-14, cs-141003; SQLite) whose CS and prefecture
server hold the same N synthetic residents of 141003 (made up once, loaded into the CS, copied
row for row into the prefecture server before the nodes start). Then, at cs-141003 as an
operator: a comparison of the equal files; 10 differences planted in the prefecture server's
database (3 rows deleted, 3 addresses changed, 2 persons it should not have, 2 persons with a
newer version at the CS); a comparison that finds them; the approval; a comparison that finds
none. Each run reports its round trips and the bytes of its sealed messages both ways.

The full transfer it is measured against is what a naive check would ship: every record of the
municipality, read at the CS, as Change messages sealed to the prefecture server in batches of
500 (the delivery's own batches). Its bytes are exact; its time covers reading, encoding and
sealing only — not the network or the receiver's work, so it is a lower bound.

Target (issue #15): the comparison with 10 differences sends <= 1% of the full transfer's bytes.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from juki.v1 import common_pb2
from juki.v1 import consistency_service_pb2 as pb
from jukinet.client import calls as clients
from jukinet.consistency.leaves import FILES, latest_versions
from jukinet.consistency.repairs import change_of
from jukinet.core import methods as m
from jukinet.core.identity import Role
from jukinet.dev import plant, synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import NodePlan
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.storage.schema import resident_versions

MUNICIPALITY = "141003"
# The persons P5 changes in place: 3 deleted and 3 moved at the prefecture, 2 given a version
# at the CS (the 2 others of the 10 differences are persons added at the prefecture).
CHANGED = 8
TOPOLOGY = (
    NodePlan(Role.NATIONAL),
    NodePlan(Role.PREFECTURE, "14", next_hop="national"),
    NodePlan(Role.CS, MUNICIPALITY, next_hop="prefecture-14"),
)
BATCH = 500


def _sqlite_file(net: LocalNetwork, node: str) -> str:
    url = net.node_info(node).database_url
    assert url is not None and url.startswith("sqlite:///")
    return url.removeprefix("sqlite:///")


def _copy_records(net: LocalNetwork, source: str, target: str) -> None:
    """The `source` node's resident tables, row for row, into `target`, which holds none yet."""
    with plant.database(net, target):
        pass  # created, with its tables
    with sqlite3.connect(_sqlite_file(net, target)) as conn:
        conn.execute("ATTACH DATABASE ? AS source", (_sqlite_file(net, source),))
        for table in ("resident_versions", "resident_current"):
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
        conn.commit()
        conn.execute("DETACH DATABASE source")


def full_transfer(net: LocalNetwork) -> dict[str, float]:
    """Every record of the municipality at the CS, sealed to the prefecture server in batches."""
    cs = net.node_info("cs-141003")
    sealer = Sealer(cs.spiffe_id, net.keyring("cs-141003"), KeyDirectory(net.key_dir, net.bundle))
    recipient = net.node_info("prefecture-14").spiffe_id
    spec = FILES[pb.RECORD_FILE_RESIDENT]
    query = latest_versions(spec, MUNICIPALITY).with_only_columns(*resident_versions.columns)
    began = time.perf_counter()
    total = records = 0
    batch: list[common_pb2.Change] = []

    def seal() -> int:
        envelope = sealer.seal(
            common_pb2.ChangeBatch(changes=batch),
            recipient=recipient,
            method=m.DELIVER_MUNICIPAL_CHANGES,
        )
        batch.clear()
        return envelope.ByteSize()

    with plant.database(net, "cs-141003") as db, db.engine.connect() as conn:
        for row in conn.execution_options(yield_per=10_000).execute(query):
            batch.append(change_of(row, row.change_id))
            records += 1
            if len(batch) == BATCH:
                total += seal()
        if batch:
            total += seal()
    return {"records": records, "bytes": total, "seconds": time.perf_counter() - began}


def _check(net: LocalNetwork) -> dict[str, Any]:
    began = time.perf_counter()
    (report,) = clients.consistency_check(
        net.info, net.info.node("cs-141003"), MUNICIPALITY, pb.RECORD_FILE_RESIDENT
    )
    seconds = time.perf_counter() - began
    f = report.found
    return {
        "seconds": seconds,
        "round_trips": report.round_trips,
        "bytes": report.bytes_sent + report.bytes_received,
        "records_here": report.records_here,
        "records_above": report.records_above,
        "found": f.missing_above + f.missing_below + f.different_version + f.different_content,
        "run_id": report.run_id,
    }


def run(residents_count: int) -> dict[str, Any]:
    """P5 on a network of its own; every figure of this run."""
    with tempfile.TemporaryDirectory() as tmp:
        net = LocalNetwork(Path(tmp), topology=TOPOLOGY)
        net.prepare()
        began = time.perf_counter()
        with plant.database(net, "cs-141003") as db:
            synthetic.load_residents(db, MUNICIPALITY, residents_count, seed=15)
        _copy_records(net, "cs-141003", "prefecture-14")
        load_s = time.perf_counter() - began
        net.start()
        try:
            equal = _check(net)
            with plant.database(net, "cs-141003") as db, db.engine.connect() as conn:
                codes = sorted(
                    conn.execute(select(resident_versions.c.juminhyo_code).limit(CHANGED)).scalars()
                )
            plant.delete_persons(net, "prefecture-14", codes[:3])
            plant.change_address(net, "prefecture-14", codes[3:6])
            plant.add_version(net, "cs-141003", codes[6:8])
            plant.load_at(net, ["prefecture-14"], MUNICIPALITY, 2, seed=16)
            planted = _check(net)
            # Approved by another operator than the one who ran the check (the two-person rule).
            clients.approve_repairs(
                net.info, net.info.node("cs-141003"), planted["run_id"], "supervisor"
            )
            after = _check(net)
            transfer = full_transfer(net)
        finally:
            net.stop()
    return {
        "residents": residents_count,
        "load_seconds": load_s,
        "equal": equal,
        "planted": planted,
        "after_repair": after,
        "full_transfer": transfer,
    }


def report(p5: dict[str, Any]) -> None:
    """P5's lines of the table."""
    full = p5["full_transfer"]
    per_million = 1_000_000 / max(p5["residents"], 1)
    print(
        f"\nP5 consistency check, {p5['residents']:,} residents of {MUNICIPALITY} "
        f"(full transfer: {full['bytes'] / 1e6:,.1f} MB, read+sealed in {full['seconds']:.1f} s):"
    )
    for label in ("equal", "planted", "after_repair"):
        r = p5[label]
        share = r["bytes"] / full["bytes"] * 100
        print(
            f"  {label:<13} found {r['found']:>3}  {r['round_trips']:>2} round trips  "
            f"{r['bytes'] / 1e3:>8.1f} kB = {share:.4f}% of the full transfer (target <= 1%)  "
            f"{r['seconds']:.1f} s ({r['seconds'] * per_million:.0f} s per million)"
        )
