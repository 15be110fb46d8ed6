"""Cost of sealing and opening envelopes, per message and per batch, for both signature algorithms.

Usage: python bench/sealing.py [--seconds S] [--json FILE]

Every figure is measured in this run on this machine; the ratios (per-record
cost of a batch against a one-record envelope, ML-DSA-65 against Ed25519) are
what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import arguments

from juki.v1 import common_pb2
from jukinet.core import clock
from jukinet.dev import synthetic
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory, publish
from jukinet.sealing.key_documents import sign_document
from jukinet.sealing.keys import ED25519, ML_DSA_65, NodeKeyring, new_entries
from jukinet.trust import pki

SENDER = "spiffe://juki.example/cs/141003"
RECEIVER = "spiffe://juki.example/prefecture/14"
METHOD = "/juki.v1.PrefectureService/DeliverMunicipalChanges"


def _timed(fn: Callable[[], object], seconds: float) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _world(tmp: Path, algorithm: int) -> tuple[Sealer, Sealer]:
    issuer = pki.create_ca("bench CA")
    pki.write_bundle(tmp / "bundle.pem", [issuer.certificate])
    sealers = []
    for spiffe_id in (SENDER, RECEIVER):
        ring = NodeKeyring.create(
            tmp / f"{spiffe_id[-2:]}.json",
            new_entries(clock.SYSTEM.now(), signature_algorithm=algorithm),
        )
        publish(
            tmp / "keys",
            spiffe_id[-2:],
            sign_document(ring.document(spiffe_id, clock.SYSTEM.now()), issuer),
        )
        sealers.append(Sealer(spiffe_id, ring, KeyDirectory(tmp / "keys", tmp / "bundle.pem")))
    return sealers[0], sealers[1]


def run(seconds: float) -> list[dict[str, object]]:
    """Measure every (algorithm, batch size); one row each."""
    rng = random.Random(1)
    rows: list[dict[str, object]] = []
    for name, algorithm in (("Ed25519", ED25519), ("ML-DSA-65", ML_DSA_65)):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "keys").mkdir()
            sender, receiver = _world(Path(tmp), algorithm)
            for size in (1, 10, 100, 500):
                batch = common_pb2.ChangeBatch(
                    changes=[synthetic.birth("141003", rng) for _ in range(size)]
                )
                seal = _timed(
                    lambda b=batch, s=sender: s.seal(b, recipient=RECEIVER, method=METHOD), seconds
                )
                envelope = sender.seal(batch, recipient=RECEIVER, method=METHOD)
                opened = _timed(
                    lambda e=envelope, r=receiver: r.open(
                        e, common_pb2.ChangeBatch, peer=SENDER, method=METHOD
                    ),
                    seconds,
                )
                seal_ms, open_ms = statistics.median(seal) * 1e3, statistics.median(opened) * 1e3
                rows.append(
                    {
                        "signature": name,
                        "records": size,
                        "seal_ms": round(seal_ms, 3),
                        "open_ms": round(open_ms, 3),
                        "per_record_us": round((seal_ms + open_ms) * 1e3 / size, 1),
                        "envelope_bytes": envelope.ByteSize(),
                        "overhead_bytes": envelope.ByteSize() - batch.ByteSize(),
                    }
                )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=arguments.seconds, default=0.5, help="time per measurement"
    )
    parser.add_argument("--json", type=arguments.json_file, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = run(args.seconds)
    print(
        f"{'signature':<10}{'records':>8}{'seal ms':>10}{'open ms':>10}"
        f"{'µs/record':>11}{'bytes':>9}{'overhead':>10}"
    )
    for r in rows:
        print(
            f"{r['signature']:<10}{r['records']:>8}{r['seal_ms']:>10}{r['open_ms']:>10}"
            f"{r['per_record_us']:>11}{r['envelope_bytes']:>9}{r['overhead_bytes']:>10}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
