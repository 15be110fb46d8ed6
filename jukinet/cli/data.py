"""`juki-net load` (synthetic residents into a node's store) and `juki-net retention`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from jukinet.cli.errors import UsageError, node_config
from jukinet.cli.parsing import Subcommands, command, positive
from jukinet.core import clock
from jukinet.dev import synthetic
from jukinet.records.identifiers import municipalities_of
from jukinet.runtime import retention
from jukinet.storage import as_utc, open_database


def cmd_load(args: argparse.Namespace) -> int:
    """Load synthetic residents straight into a node's store, showing progress."""
    prefecture = args.prefecture
    if len(prefecture) != 2 or not prefecture.isdigit() or not municipalities_of(prefecture):
        raise UsageError(f"--prefecture: {args.prefecture!r} is not a prefecture code (01..47)")
    config = node_config(args.config)
    db = open_database(config.database_url)
    step = max(1, args.count // 10)
    shown = [0]

    def progress(done: int) -> None:
        if done - shown[0] >= step or done == args.count:
            shown[0] = done
            print(f"  {done}/{args.count} written", file=sys.stderr, flush=True)

    try:
        loaded = synthetic.load_residents(
            db, args.prefecture, args.count, seed=args.seed, progress=progress
        )
    finally:
        db.dispose()
    print(
        f"loaded {loaded.count} residents of prefecture {args.prefecture}: "
        f"written in {loaded.writing_s:.1f} s (made up in {loaded.generating_s:.1f} s)"
    )
    return 0


def _moment(text: str) -> dt.datetime:
    """argparse type: an ISO 8601 time (UTC if it names no offset)."""
    try:
        return as_utc(dt.datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None


def cmd_retention(args: argparse.Namespace) -> int:
    """Purge what is past its retention period (as of --now, default the present)."""
    config = node_config(args.config)
    db = open_database(config.database_url)
    try:
        with db.transaction() as conn:
            purged = retention.purge(conn, args.now or clock.SYSTEM.now())
    finally:
        db.dispose()
    print(
        f"purged {purged.versions} superseded versions, {purged.persons} removed persons, "
        f"{purged.provisions} provision-log entries, {purged.outbox_rows} outbox rows"
    )
    return 0


def add_commands(sub: Subcommands) -> None:
    """load, retention."""
    load = command(
        sub,
        "load",
        summary="load synthetic residents straight into a node's store (benchmarks, demos)",
        example="juki-net load --config .juki-state/nodes/prefecture-14/config.json "
        "--prefecture 14 --count 100000",
        func=cmd_load,
    )
    load.add_argument("--prefecture", required=True, help="2-digit prefecture code, e.g. 14")
    load.add_argument("--count", type=positive, required=True, help="how many residents")
    load.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    keep = command(
        sub,
        "retention",
        summary="purge what is past its retention period (150 years, 7 years, 90 days)",
        details="Nodes need not be stopped (SQLite WAL, PostgreSQL).",
        example="juki-net retention --config .juki-state/nodes/national/config.json",
        func=cmd_retention,
    )
    keep.add_argument(
        "--now", type=_moment, help="purge as of this ISO time (default: the present)"
    )
    for p in (load, keep):
        p.add_argument("--config", type=Path, required=True, help="the node's config.json")
