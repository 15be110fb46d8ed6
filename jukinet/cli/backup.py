"""`juki-net backup`, `juki-net restore`, `juki-net backup-key`: a node's database sealed to a
backup custodian's key, and restored from it into a fresh node."""

from __future__ import annotations

import argparse
from pathlib import Path

from jukinet.cli.errors import UsageError, node_config
from jukinet.cli.parsing import Subcommands, command
from jukinet.core import clock
from jukinet.runtime import backup
from jukinet.sealing import backup_box


def cmd_backup_key(args: argparse.Namespace) -> int:
    """Make the custodian's recipient key pair."""
    public, private = backup_box.make_recipient(args.out)
    print(f"{public}: the recipient, for the nodes' hosts")
    print(f"{private}: the private key (0600), for the custodian only — never on a node's host")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Seal a snapshot of a node's database to the recipient."""
    config = node_config(args.config)
    if not args.recipient.is_file():
        raise UsageError(f"{args.recipient}: no such recipient file")
    header = backup.take(config, args.recipient, args.out, clock.SYSTEM.now())
    print(
        f"{args.out}: {header['database']} backup of {header['node']} taken {header['taken_at']},"
        f" sealed to recipient {header['recipient']}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Open a backup into a fresh node's database (with the custodian's private key)."""
    config = node_config(args.config)
    for path in (args.input, args.key):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    header = backup.restore(config, args.input, args.key)
    print(f"{config.name}: restored the backup taken {header['taken_at']}; start the node")
    return 0


def add_commands(sub: Subcommands) -> None:
    """backup-key, backup, restore."""
    key = command(
        sub,
        "backup-key",
        summary="make a backup custodian's recipient key pair",
        example="juki-net backup-key --out custodian",
        func=cmd_backup_key,
    )
    key.add_argument("--out", type=Path, required=True, help="the folder to write both files to")
    take = command(
        sub,
        "backup",
        summary="seal a consistent snapshot of a node's database to a backup recipient",
        details="Runs on the node's host while the node serves (SQLite online backup, or "
        "pg_dump). The file opens only with the custodian's private key.",
        example="juki-net backup --config .juki-state/nodes/prefecture-14/config.json "
        "--recipient custodian/backup-recipient.pub --out prefecture-14.backup",
        func=cmd_backup,
    )
    take.add_argument("--recipient", type=Path, required=True, help="the recipient file (.pub)")
    take.add_argument("--out", type=Path, required=True, help="the backup file to write")
    back = command(
        sub,
        "restore",
        summary="open a backup into a node whose database is still empty",
        details="Only into the node the backup was taken of, and only into an empty database; "
        "start the node afterwards (it migrates the schema) and run a consistency check.",
        example="juki-net restore --config .juki-state/nodes/prefecture-14/config.json "
        "--in prefecture-14.backup --key custodian/backup-recipient.key",
        func=cmd_restore,
    )
    back.add_argument("--in", dest="input", type=Path, required=True, help="the backup file")
    back.add_argument("--key", type=Path, required=True, help="the custodian's private key")
    for parser in (take, back):
        parser.add_argument("--config", type=Path, required=True, help="the node's config file")
