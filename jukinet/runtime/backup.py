"""A node's encrypted backup and its restore into a fresh node.

`take` snapshots the node's database while it runs — SQLite's online backup
API (a consistent copy, page by page, beside the writers), or `pg_dump` for
PostgreSQL (one repeatable-read snapshot) — and seals it to the backup
custodian's recipient key (sealing/backup_box.py), signed with the node's
current signing key: the node's operators can make backups but not read them,
and nobody else can make one. `restore` opens one with the custodian's private
key into a node whose database is still empty, only for the identity it was
taken of, and only if the signature verifies with a signing key that node's
CA-signed key document lists for the time it was taken (the node's key
directory); the node then migrates it to its schema on start, and a
consistency check with its neighbours shows what changed since.
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

from cryptography.exceptions import InvalidSignature
from google.protobuf.message import DecodeError
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from jukinet.core.config import NodeConfig
from jukinet.sealing import backup_box
from jukinet.sealing.backup_box import BackupError, BackupSigner, Verify
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import KeyTrustError, NodeKeyring, signing_public_key
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


def _signer(config: NodeConfig) -> BackupSigner:
    """The node's current signing key (the one its envelopes are signed with)."""
    try:
        entry, private = NodeKeyring(config.keyring_file).current_signing_key()
    except (OSError, ValueError, KeyTrustError) as error:
        kind = type(error).__name__
        raise BackupError(f"the node's signing key is not usable ({kind})") from None
    return BackupSigner(entry.key_id, entry.algorithm, private.sign)


def _verifier(config: NodeConfig) -> Verify:
    """Checks a backup's signature with the key the node's key document lists."""

    def verify(header: dict[str, Any], signed: bytes, signature: bytes) -> None:
        try:
            taken_at = dt.datetime.fromisoformat(str(header.get("taken_at")))
            directory = KeyDirectory(config.key_directory, config.credentials.trust_bundle)
            key_id = str(header.get("signer_key_id"))
            key = directory.signing_key(config.spiffe_id, key_id, taken_at)
            if key is None or key.signature_algorithm != header.get("signature_algorithm"):
                raise BackupError("the backup is not signed by a key of this node's key document")
            signing_public_key(key.signature_algorithm, key.public_key).verify(signature, signed)
        except (InvalidSignature, KeyTrustError, DecodeError, ValueError, TypeError, OSError):
            raise BackupError("the backup's signature does not verify: not this node's") from None

    return verify


def take(config: NodeConfig, recipient: Path, out: Path, now: dt.datetime) -> dict[str, Any]:
    """Seal a snapshot of the node's database to `recipient` into `out`, signed by the node;
    the file's header."""
    signer = _signer(config)
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
            backup_box.seal(source, sink, header, recipient, signer)
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
            backup_box.open_sealed(source, sink, key, _verifier(config))
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
