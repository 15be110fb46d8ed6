"""The tables every node keeps. Alembic migrations (jukinet/migrations) create them.

resident_versions
    本人確認情報, one row per version of a person's record. Rows are only
    ever inserted: the current record is the highest version; older ones are
    the history the law keeps.
received_changes
    Every change id this node has decided on (applied or rejected), so a
    re-delivery is answered the same way and never applied twice.
outbox
    Changes waiting for the next hop (store-and-forward). The payload is the
    serialized message to send; the trace context links the delivery to the
    trace of the change that produced it.
seen_envelopes
    Message ids of sealed envelopes received recently (replay protection).
audit_log
    Append-only, hash-chained record of refusals and operator actions; see
    audit.py.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

# BigInteger autoincrement that SQLite also treats as ROWID.
Id = BigInteger().with_variant(Integer(), "sqlite")

resident_versions = Table(
    "resident_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("juminhyo_code", String(11), nullable=False),
    Column("version", Integer, nullable=False),
    Column("change_id", String(36), nullable=False),
    Column("change_reason", SmallInteger, nullable=False),
    Column("change_date", String(10), nullable=False),
    Column("municipality_code", String(6), nullable=False),
    Column("my_number", String(12), nullable=False),
    Column("name_kanji", String(100), nullable=False),
    Column("name_kana", String(100), nullable=False),
    Column("birth_date", String(10), nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column("address_municipality_code", String(6), nullable=False),
    Column("address_text", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("juminhyo_code", "version", name="uq_resident_versions_code_version"),
)

received_changes = Table(
    "received_changes",
    metadata,
    Column("change_id", String(36), primary_key=True),
    Column("sender", String(255), nullable=False),
    Column("outcome", SmallInteger, nullable=False),
    Column("reason", String(64), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("change_id", String(36), nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Column("trace_context", String(255), nullable=False, default=""),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("rejection_reason", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
Index("ix_outbox_pending", outbox.c.state, outbox.c.id)

seen_envelopes = Table(
    "seen_envelopes",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("sender", String(255), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(255), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
