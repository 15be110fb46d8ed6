"""The tables every node keeps. Alembic migrations (jukinet/migrations) create them.

resident_versions
    本人確認情報 (the 28 items of seed 003 別添2 (1)), one row per version of a
    person's record. Rows are only ever inserted: older versions and removed
    persons are the history the law keeps.
resident_current
    An index of each person's latest version (state and search keys), the
    only table whose rows are updated; it can be rebuilt from the versions.
held_changes
    Changes that arrived before an earlier change of the same person; sealed
    at rest like the outbox, applied when the gap fills (resident changes by
    更新順番号; fuhyo changes when the fuhyo's keeping municipality lets go).
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
    Append-only record of refusals and operator actions (trust/audit.py), a
    Merkle log: seq is its leaf index + 1.
provision_log
    Every provision of a record and every refused query (provision/log.py):
    who, for which task, which items; keys and persons only as keyed hashes.
    A Merkle log by leaf_index.
log_leaves, log_checkpoints, witnessed_logs
    The Merkle logs' leaf hashes (kept past the rows' retention), the node's
    signed and witnessed checkpoints, and — as a witness — the last
    checkpoint it cosigned for each log below (jukinet/transparency).
access_grants
    The access-right ledger: operators' rights, granted, approved (two
    administrators), expired or revoked (trust/access.py).
bulk_approvals
    Approvals recorded by operators for bulk provisions above the threshold.
fuhyo_versions, fuhyo_current
    附票本人確認情報 (the 18 items of seed 003 別添2 (2)), kept like the
    resident record: versions only inserted, an index of the latest. No My
    Number column exists, by design.
consistency_runs, consistency_differences
    整合性確認 (jukinet/consistency): each comparison of a municipality's
    file with the tier above — its report (counts only, serialized
    ConsistencyReport) — and the persons found different, with what was done
    about each, so an operator can approve the repairs that wait.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from jukinet.core import sizes
from jukinet.storage.outbox_state import DESTINATIONS, OutboxState, partial_index, waiting_for

metadata = MetaData()

# BigInteger autoincrement that SQLite also treats as ROWID.
Id = BigInteger().with_variant(Integer(), "sqlite")

resident_versions = Table(
    "resident_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), nullable=False),
    Column("version", Integer, nullable=False),
    Column("change_id", String(sizes.UUID), nullable=False),
    Column("change_reason", SmallInteger, nullable=False),
    Column("change_date", String(sizes.DATE), nullable=False),
    Column("municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("my_number", String(sizes.MY_NUMBER), nullable=False),
    Column("name_kanji", String(sizes.NAME), nullable=False),
    Column("name_kana", String(sizes.NAME), nullable=False),
    Column("birth_date", String(sizes.DATE), nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column("address_municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("address_text", String(sizes.ADDRESS), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Added in revision 0003: the rest of the 28 items of 別添2 (1).
    Column("sequence_number", BigInteger, nullable=False, server_default="0"),
    Column("notified_date", String(sizes.DATE), nullable=False, server_default=""),
    Column("operator_id", String(sizes.OPAQUE_ID), nullable=False, server_default=""),
    Column("terminal_id", String(sizes.OPAQUE_ID), nullable=False, server_default=""),
    Column(
        "previous_juminhyo_code", String(sizes.JUMINHYO_CODE), nullable=False, server_default=""
    ),
    Column("name_gaiji_count", Integer, nullable=False, server_default="0"),
    Column("address_gaiji_count", Integer, nullable=False, server_default="0"),
    Column("oaza_code", String(sizes.OAZA_CODE), nullable=False, server_default=""),
    Column("gaiji_flag", Boolean, nullable=False, server_default=false()),
    Column("name_gaiji_change_seq", Integer, nullable=False, server_default="0"),
    Column("address_gaiji_change_seq", Integer, nullable=False, server_default="0"),
    Column("former_surname_kanji", String(sizes.FORMER_SURNAME), nullable=False, server_default=""),
    Column("former_surname_kana", String(sizes.FORMER_SURNAME), nullable=False, server_default=""),
    Column("former_surname_gaiji_count", Integer, nullable=False, server_default="0"),
    Column("former_surname_gaiji_change_seq", Integer, nullable=False, server_default="0"),
    Column("seion_kana", String(sizes.NAME), nullable=False, server_default=""),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("retention", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("juminhyo_code", "version", name="uq_resident_versions_code_version"),
)

resident_current = Table(
    "resident_current",
    metadata,
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), primary_key=True),
    Column("version_id", Id, nullable=False),
    Column("sequence_number", BigInteger, nullable=False),
    Column("removed", Boolean, nullable=False),
    Column("municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("my_number", String(sizes.MY_NUMBER), nullable=False),
    Column("seion_kana", String(sizes.NAME), nullable=False),
    Column("name_kanji", String(sizes.NAME), nullable=False),
    Column("birth_date", String(sizes.DATE), nullable=False),
    Column("sex", SmallInteger, nullable=False),
)
# With the code after it, so "by My Number, ordered by code" is one index range on PostgreSQL
# (on the My Number alone its planner walked the primary key instead: docs/benchmarks.md).
Index(
    "ix_resident_current_my_number", resident_current.c.my_number, resident_current.c.juminhyo_code
)
Index("ix_resident_current_kana", resident_current.c.seion_kana, resident_current.c.birth_date)
Index("ix_resident_current_kanji", resident_current.c.name_kanji, resident_current.c.birth_date)

held_changes = Table(
    "held_changes",
    metadata,
    Column("change_id", String(sizes.UUID), primary_key=True),
    Column("person_key", String(sizes.JUMINHYO_CODE), nullable=False),
    Column("sequence_number", BigInteger, nullable=False),
    Column("sender", String(sizes.SPIFFE_ID), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
Index("ix_held_changes_person", held_changes.c.person_key, held_changes.c.sequence_number)
# Added in revision 0006: which record a held change is of ("resident" or "fuhyo").
held_changes.append_column(
    Column("record", String(sizes.HOP), nullable=False, server_default="resident")
)

received_changes = Table(
    "received_changes",
    metadata,
    Column("change_id", String(sizes.UUID), primary_key=True),
    Column("sender", String(sizes.SPIFFE_ID), nullable=False),
    Column("outcome", SmallInteger, nullable=False),
    Column("reason", String(sizes.REASON), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("change_id", String(sizes.UUID), nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Column("trace_context", String(sizes.TRACE_CONTEXT), nullable=False, default=""),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("rejection_reason", String(sizes.REASON), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)


# Added in revision 0005: which of the node's hops an entry goes to (a CS has two).
outbox.append_column(
    Column("destination", String(sizes.HOP), nullable=False, server_default="next_hop")
)
# A deliverer's fetch (one hop's oldest entries in one state) reads a partial index of that
# state and hop in id order up to its limit, with or without statistics: revisions 0011 and
# 0012 say what PostgreSQL did with coarser indexes (#18).
for _state in (OutboxState.PENDING, OutboxState.HELD):
    for _hop in DESTINATIONS:
        _where = waiting_for(outbox.c.state, outbox.c.destination, _state, _hop)
        Index(
            partial_index(_state, _hop), outbox.c.id, postgresql_where=_where, sqlite_where=_where
        )

seen_envelopes = Table(
    "seen_envelopes",
    metadata,
    Column("message_id", String(sizes.UUID), primary_key=True),
    Column("sender", String(sizes.SPIFFE_ID), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(sizes.SPIFFE_ID), nullable=False),
    Column("action", String(sizes.METHOD), nullable=False),
    Column("outcome", String(sizes.AUDIT_OUTCOME), nullable=False),
    Column("reason", String(sizes.REASON), nullable=False),
)

provision_log = Table(
    "provision_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("fiscal_year", SmallInteger, nullable=False),
    # The TLS caller, and the organ or agency the record is for (differs for forwarded queries).
    Column("caller", String(sizes.SPIFFE_ID), nullable=False),
    Column("recipient", String(sizes.SPIFFE_ID), nullable=False),
    Column("operator_id", String(sizes.OPAQUE_ID), nullable=False),
    Column("task_id", String(sizes.TASK_ID), nullable=False),
    Column("request_id", String(sizes.UUID), nullable=False),
    Column("key_kind", String(sizes.KEY_KIND), nullable=False),
    Column("key_hash", String(sizes.SHA256_HEX), nullable=False),
    # The person provided (keyed hash of the 住民票コード); "" for refusals and no match.
    Column("subject_hash", String(sizes.SHA256_HEX), nullable=False),
    Column("outcome", String(sizes.PROVISION_OUTCOME), nullable=False),
    Column("reason", String(sizes.REASON), nullable=False),
    Column("items_given", String(sizes.ITEMS), nullable=False),
    # Its place in the provision Merkle log (transparency/tlog.py).
    Column("leaf_index", Id, nullable=False, unique=True),
)
Index("ix_provision_log_at", provision_log.c.at)
Index("ix_provision_log_subject", provision_log.c.subject_hash)
Index("ix_provision_log_year_task", provision_log.c.fiscal_year, provision_log.c.task_id)

# The leaves of each Merkle log (transparency/tlog.py): kept when retention removes the rows, so
# the tree and every checkpoint stay provable.
log_leaves = Table(
    "log_leaves",
    metadata,
    Column("log", String(sizes.LOG_NAME), primary_key=True),
    Column("leaf_index", Id, primary_key=True, autoincrement=False),
    Column("leaf_hash", String(sizes.SHA256_HEX), nullable=False),
)

# The node's signed checkpoints of its logs, with the cosignatures its witness added.
log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("log", String(sizes.LOG_NAME), primary_key=True),
    Column("size", Id, primary_key=True, autoincrement=False),
    Column("root", String(sizes.SHA256_HEX), nullable=False),
    Column("note", Text, nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("witnessed_at", DateTime(timezone=True)),
)

# As a witness: the last checkpoint cosigned for each log of the nodes below.
witnessed_logs = Table(
    "witnessed_logs",
    metadata,
    Column("origin", String(sizes.LOG_ORIGIN), primary_key=True),
    Column("size", Id, nullable=False),
    Column("root", String(sizes.SHA256_HEX), nullable=False),
    Column("note", Text, nullable=False),
    Column("cosigned_at", DateTime(timezone=True), nullable=False),
)

# The access-right ledger (trust/access.py): operators' rights on this node, each granted by one
# administrator and in effect only once another approved it, until it expires or is revoked.
access_grants = Table(
    "access_grants",
    metadata,
    Column("grant_id", String(sizes.UUID), primary_key=True),
    Column("operator", String(sizes.SPIFFE_ID), nullable=False, index=True),
    Column("rights", String(sizes.ITEMS), nullable=False),  # comma-separated right names
    Column("granted_by", String(sizes.SPIFFE_ID), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(sizes.SPIFFE_ID)),
    Column("approved_at", DateTime(timezone=True)),
    Column("revoked_by", String(sizes.SPIFFE_ID)),
    Column("revoked_at", DateTime(timezone=True)),
)

bulk_approvals = Table(
    "bulk_approvals",
    metadata,
    Column("approval_id", String(sizes.UUID), primary_key=True),
    Column("recipient", String(sizes.SPIFFE_ID), nullable=False),
    Column("task_id", String(sizes.TASK_ID), nullable=False),
    Column("max_rows", BigInteger, nullable=False),
    Column("approved_by", String(sizes.SPIFFE_ID), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

fuhyo_versions = Table(
    "fuhyo_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), nullable=False),
    Column("version", Integer, nullable=False),
    Column("change_id", String(sizes.UUID), nullable=False),
    Column("municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("name_kanji", String(sizes.NAME), nullable=False),
    Column("name_gaiji_count", Integer, nullable=False),
    Column("name_kana", String(sizes.NAME), nullable=False),
    Column("seion_kana", String(sizes.NAME), nullable=False),
    Column("birth_date", String(sizes.DATE), nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column("address_municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("address_text", String(sizes.ADDRESS), nullable=False),
    Column("address_gaiji_count", Integer, nullable=False),
    Column("last_domestic_address", String(sizes.ADDRESS), nullable=False),
    Column("last_domestic_address_gaiji_count", Integer, nullable=False),
    Column("change_date", String(sizes.DATE), nullable=False),
    Column("former_juminhyo_code", String(sizes.JUMINHYO_CODE), nullable=False),
    Column("keeping_municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("gaiji_flag", Boolean, nullable=False),
    Column("gaiji_pattern", String(sizes.GAIJI_PATTERN), nullable=False),
    Column("notice_kind", SmallInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("juminhyo_code", "version", name="uq_fuhyo_versions_code_version"),
)

fuhyo_current = Table(
    "fuhyo_current",
    metadata,
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), primary_key=True),
    Column("version_id", Id, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("keeping_municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("seion_kana", String(sizes.NAME), nullable=False),
    Column("name_kanji", String(sizes.NAME), nullable=False),
    Column("birth_date", String(sizes.DATE), nullable=False),
    Column("sex", SmallInteger, nullable=False),
)
Index("ix_fuhyo_current_kana", fuhyo_current.c.seion_kana, fuhyo_current.c.birth_date)
Index("ix_fuhyo_current_kanji", fuhyo_current.c.name_kanji, fuhyo_current.c.birth_date)

# What a version row holds for this node alone: its row id, its number in this node's history,
# the change id that brought it (a consistency repair brings it under a new one) and when it
# was recorded. Every other column is the record, the same on every tier that holds it.
BOOKKEEPING = frozenset({"id", "version", "change_id", "recorded_at"})


def content_columns(versions: Table) -> list[Column[Any]]:
    """The columns of a version table that every tier holds alike, in table order."""
    return [c for c in versions.columns if c.name not in BOOKKEEPING]


# The lookup of a municipality's latest versions per person (整合性確認), revision 0007.
Index(
    "ix_resident_versions_municipality",
    resident_versions.c.municipality_code,
    resident_versions.c.juminhyo_code,
    resident_versions.c.version,
)
Index(
    "ix_fuhyo_versions_municipality",
    fuhyo_versions.c.municipality_code,
    fuhyo_versions.c.juminhyo_code,
    fuhyo_versions.c.version,
)

consistency_runs = Table(
    "consistency_runs",
    metadata,
    Column("run_id", String(sizes.UUID), primary_key=True),
    Column("municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("file", SmallInteger, nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("report", LargeBinary, nullable=False),
)
Index(
    "ix_consistency_runs_latest",
    consistency_runs.c.municipality_code,
    consistency_runs.c.file,
    consistency_runs.c.finished_at,
)

consistency_differences = Table(
    "consistency_differences",
    metadata,
    Column("run_id", String(sizes.UUID), primary_key=True),
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    Column("repair", SmallInteger, nullable=False),
)
