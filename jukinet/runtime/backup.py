"""A node's encrypted backup and its restore into a fresh node.

`take` snapshots the node's database while it runs — SQLite's online backup
API (a consistent copy, page by page, beside the writers), or `pg_dump` for
PostgreSQL (one repeatable-read snapshot) — and seals it to the backup
custodian's recipient key (sealing/backup_box.py): the node's operators can
make backups but not read them. `restore` opens one with the custodian's
private key into a node whose database is still empty, and only for the
identity it was taken of; the node then migrates it to its schema on start,
and a consistency check with its neighbours shows what changed since.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from jukinet.core.config import NodeConfig
from jukinet.sealing import backup_box
from jukinet.sealing.backup_box import BackupError
from jukinet.storage import postgres_bin


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None


def _libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (without the driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _snapshot(url: str, into: Path) -> str:
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"{path}: the node's database does not exist")
        source, target = sqlite3.connect(path), sqlite3.connect(into)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return "sqlite"
    subprocess.run(  # noqa: S603 - the installed PostgreSQL client, fixed arguments
        [
            postgres_bin.program("pg_dump"),
            "--format=custom",
            "--no-owner",
            f"--file={into}",
            f"--dbname={_libpq(url)}",
        ],
        check=True,
        capture_output=True,
    )
    return "postgresql"


def take(config: NodeConfig, recipient: Path, out: Path, now: dt.datetime) -> dict[str, Any]:
    """Seal a snapshot of the node's database to `recipient` into `out`; the file's header."""
    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "snapshot"
        kind = _snapshot(config.database_url, snapshot)
        header = {
            "node": config.name,
            "spiffe_id": config.spiffe_id,
            "database": kind,
            "taken_at": now.isoformat(),
            "size": snapshot.stat().st_size,
        }
        partial = out.with_name(f".{out.name}.partial")
        with snapshot.open("rb") as source, partial.open("wb") as sink:
            backup_box.seal(source, sink, header, recipient)
        os.replace(partial, out)
    with out.open("rb") as written:
        return backup_box.read_header(written)[0]


def _empty(url: str) -> bool:
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        # A write-ahead log left from an earlier database would be replayed into the restored one.
        return not path.with_name(f"{path.name}-wal").exists()
    engine = create_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def restore(config: NodeConfig, backup: Path, key: Path) -> dict[str, Any]:
    """Open `backup` with the custodian's `key` into this (fresh) node's database; its header."""
    with backup.open("rb") as source:
        header = backup_box.read_header(source)[0]
    if header.get("spiffe_id") != config.spiffe_id:
        raise BackupError(f"the backup is of {header.get('spiffe_id')}, not of this node")
    if not _empty(config.database_url):
        raise BackupError("this node's database already holds data; restore into a fresh one")
    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "snapshot"
        with backup.open("rb") as source, snapshot.open("wb") as sink:
            backup_box.open_sealed(source, sink, key)
        path = _sqlite_path(config.database_url)
        if path is not None:
            if header.get("database") != "sqlite":
                raise BackupError("the backup is of a PostgreSQL node; this node uses SQLite")
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snapshot, path.with_name(f".{path.name}.restoring"))
            os.replace(path.with_name(f".{path.name}.restoring"), path)
        else:
            if header.get("database") != "postgresql":
                raise BackupError("the backup is of a SQLite node; this node uses PostgreSQL")
            subprocess.run(  # noqa: S603 - the installed PostgreSQL client, fixed arguments
                [
                    postgres_bin.program("pg_restore"),
                    "--no-owner",
                    f"--dbname={_libpq(config.database_url)}",
                    str(snapshot),
                ],
                check=True,
                capture_output=True,
            )
    return header
