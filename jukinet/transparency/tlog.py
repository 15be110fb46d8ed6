"""A table kept as an append-only Merkle log: the one way its rows are written and exported.

Each row appended gets the next leaf index of its log, and its leaf — the
canonical JSON of the log's name, the index and the row's fields — is hashed
(RFC 9162, 0x00 prefix) into `log_leaves` in the same transaction. The index
is inside the leaf, so a row moved to another place no longer matches; the
leaf hashes stay when retention removes old rows, so the tree and every
checkpoint stay provable. Appends of one log are serialised (SQLite's
BEGIN IMMEDIATE; a PostgreSQL advisory lock per log), so indexes are
contiguous and committed in order.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, func, select, text

from juki.v1 import transparency_service_pb2 as transparency_pb
from jukinet.storage import as_utc, bulk
from jukinet.storage.db import advisory_lock_key
from jukinet.storage.schema import audit_log, log_leaves, provision_log
from jukinet.transparency import merkle

EXPORT_FORMAT = "juki-net-log-export/1"


@dataclass(frozen=True)
class LogSpec:
    """Which table a log is, which column holds its place, and which fields its leaves hash."""

    name: str
    table: Table
    index_column: str
    first: int  # the index column's value of leaf 0
    fields: tuple[str, ...]

    def place(self, row: Mapping[str, Any]) -> int:
        """The leaf index a row claims."""
        return int(row[self.index_column]) - self.first


PROVISION = LogSpec(
    "provision",
    provision_log,
    "leaf_index",
    0,
    (
        "at",
        "fiscal_year",
        "caller",
        "recipient",
        "operator_id",
        "task_id",
        "request_id",
        "key_kind",
        "key_hash",
        "subject_hash",
        "outcome",
        "reason",
        "items_given",
    ),
)
AUDIT = LogSpec("audit", audit_log, "seq", 1, ("at", "actor", "action", "outcome", "reason"))
LOGS = {spec.name: spec for spec in (PROVISION, AUDIT)}
# Each log's name on the wire (LogAdminService), for the servicer and the client alike.
WIRE_LOGS: dict[str, transparency_pb.LogName.ValueType] = {
    PROVISION.name: transparency_pb.LOG_NAME_PROVISION,
    AUDIT.name: transparency_pb.LOG_NAME_AUDIT,
}


def origin(key_name: str, spec: LogSpec) -> str:
    """A log's checkpoint origin: the node's key name and the log's name."""
    return f"{key_name}/{spec.name}"


def _plain(value: Any) -> Any:
    return as_utc(value).isoformat() if isinstance(value, dt.datetime) else value


def fields_of(spec: LogSpec, row: Mapping[Any, Any]) -> dict[str, Any]:
    """The fields a leaf hashes, in their JSON form (times as UTC ISO 8601)."""
    return {name: _plain(row[name]) for name in spec.fields}


def leaf_data(spec: LogSpec, index: int, fields: Mapping[str, Any]) -> bytes:
    """The canonical bytes of one leaf: sorted compact JSON of log, index and fields."""
    body = {"log": spec.name, "index": index, **fields}
    return json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def leaf_hash_of(spec: LogSpec, index: int, row: Mapping[Any, Any]) -> bytes:
    """The RFC 9162 leaf hash of a row placed at `index`."""
    return merkle.leaf_hash(leaf_data(spec, index, fields_of(spec, row)))


# Built once (#18): the group commit asks it for every group.
_LAST_INDEX = select(func.max(log_leaves.c.leaf_index)).where(log_leaves.c.log == bindparam("log"))
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def append(conn: Connection, spec: LogSpec, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert rows at the end of the log, with their leaves; their leaf indexes."""
    if not rows:
        return []
    last = _last_index(conn, spec)
    start = 0 if last is None else int(last) + 1
    indexes = list(range(start, start + len(rows)))
    leaves = [
        {"log": spec.name, "leaf_index": i, "leaf_hash": leaf_hash_of(spec, i, row).hex()}
        for i, row in zip(indexes, rows, strict=True)
    ]
    entries = [
        {**row, spec.index_column: i + spec.first} for i, row in zip(indexes, rows, strict=True)
    ]
    bulk.insert_batches(conn, [(spec.table, entries), (log_leaves, leaves)])
    return indexes


def _last_index(conn: Connection, spec: LogSpec) -> int | None:
    """The log's last leaf index, read once no other append of the log can run (module
    docstring). On PostgreSQL the log's advisory lock is taken first, and the lock and the
    read go out in one round trip (psycopg's pipeline mode, #18): the server runs them in
    order, so the read sees every append committed before the lock was granted."""
    if conn.dialect.name != "postgresql":
        found = conn.execute(_LAST_INDEX, {"log": spec.name}).scalar()
        return None if found is None else int(found)
    driver = conn.connection.driver_connection
    assert driver is not None
    lock, last = _postgresql_sql(conn.dialect)
    with driver.pipeline():
        driver.execute(lock, {"key": advisory_lock_key(f"juki-net log {spec.name}")})
        read = driver.execute(last, {"log": spec.name})
    found = read.fetchone()  # answered with the lock, when the pipeline ended
    return None if found is None or found[0] is None else int(found[0])


@functools.cache
def _postgresql_sql(dialect: Dialect) -> tuple[str, str]:
    """The lock's and the read's SQL as the driver takes it (named parameters)."""
    return str(_LOCK.compile(dialect=dialect)), str(_LAST_INDEX.compile(dialect=dialect))


def leaf_hashes(conn: Connection, spec: LogSpec, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(index, leaf hash) of the stored leaves from `start`, in order."""
    rows = conn.execute(
        select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash)
        .where(log_leaves.c.log == spec.name, log_leaves.c.leaf_index >= start)
        .order_by(log_leaves.c.leaf_index)
    )
    for index, hashed in rows:
        yield int(index), bytes.fromhex(hashed)


def leaf_hash_at(conn: Connection, spec: LogSpec, index: int) -> bytes | None:
    """The stored leaf hash at `index`, or None."""
    found = conn.execute(
        select(log_leaves.c.leaf_hash).where(
            log_leaves.c.log == spec.name, log_leaves.c.leaf_index == index
        )
    ).scalar()
    return None if found is None else bytes.fromhex(found)


def export(conn: Connection, spec: LogSpec, log_origin: str) -> Iterator[dict[str, Any]]:
    """The log as JSON-ready records: a header, every leaf hash, then every row as stored.

    The export copies the database as it is, tampered or not: checking it is
    the verifier's job (transparency/verify.py), against checkpoints.
    """
    yield {"format": EXPORT_FORMAT, "log": spec.name, "origin": log_origin}
    for index, hashed in leaf_hashes(conn, spec):
        yield {"leaf": index, "hash": hashed.hex()}
    column = spec.table.c[spec.index_column]
    for row in conn.execute(select(spec.table).order_by(column)).mappings():
        yield {"entry": {spec.index_column: int(row[column.name]), **fields_of(spec, row)}}
