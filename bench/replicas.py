"""P1 and P2 on PostgreSQL with one process each of prefecture-14 and national, then with two
(replicas, jukinet/dev/replicas.py), in one run.

    python bench/replicas.py [--changes 20000] [--queries 400] [--json FILE]

On the 2-core machine every process shares the same cores, so a second replica adds little
or costs a little; what it shows is that the replicas take the load together and keep every
figure's correctness (the replica test checks exactly-once).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import arguments
import provision
from run import TOPOLOGY, p1

from jukinet.dev import localpg, replicas
from jukinet.dev.localnet import LocalNetwork


def measure(
    count: int, changes: int, queries: int, per_call: int, residents: int
) -> dict[str, Any]:
    """P2 and P1 with `count` processes (1 or 2) of prefecture-14 and of national."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(localpg.postgres_server())
        urls = {p.name: localpg.create_database(server, p.name.replace("-", "_")) for p in TOPOLOGY}
        net = LocalNetwork(tmp, topology=TOPOLOGY, database_url=urls.__getitem__)
        net.prepare()
        provision.load(net, residents)
        net.start()
        try:
            if count == 2:
                above, below = replicas.replicate(net, "national", "prefecture-14")
                to_prefecture = [net.node_info("prefecture-14").address, below.address]
                replicas.point_at(net, "cs-141003", "next_hop", to_prefecture)
                net.describe_address("prefecture-14", "ipv4:" + ",".join(to_prefecture))
                to_national = [net.node_info("national").address, above.address]
                net.describe_address("national", "ipv4:" + ",".join(to_national))
            return {"p2": provision.queries(net, queries), "p1": p1(net, changes, per_call)}
        finally:
            for name in ("prefecture-14-b", "national-b"):
                net.supervisor.stop(name)
            net.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    count = arguments.count
    parser.add_argument("--changes", type=count, default=20_000, help="P1 changes")
    parser.add_argument("--per-call", type=count, default=500, help="P1 changes per call")
    parser.add_argument("--queries", type=count, default=400, help="P2 calls per figure")
    parser.add_argument("--residents", type=count, default=20_000, help="loaded at prefecture-14")
    parser.add_argument("--json", type=arguments.json_file, help="also write the figures as JSON")
    args = parser.parse_args()
    results = {
        str(n): measure(n, args.changes, args.queries, args.per_call, args.residents)
        for n in (1, 2)
    }
    print(f"{'PostgreSQL':<40} {'1 replica':>22} {'2 replicas':>22}")
    p1_rates = [results[n]["p1"]["end_to_end"]["rate_per_s"] for n in ("1", "2")]
    print(f"{'P1 end-to-end rate /s':<40} {p1_rates[0]:>22.0f} {p1_rates[1]:>22.0f}")
    for key in results["1"]["p2"]:
        one, two = results["1"]["p2"][key], results["2"]["p2"][key]
        print(
            f"{'P2 ' + key + ' p50/p99 ms':<40} {one['p50_ms']:>10.2f} {one['p99_ms']:>10.2f}"
            f" {two['p50_ms']:>10.2f} {two['p99_ms']:>10.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
