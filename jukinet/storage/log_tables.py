"""The tables of a node's replay guard, tamper-evident logs and access-right ledger (declared on
schema.py's metadata; schema.py re-exports them, its docstring lists every table).

seen_envelopes
    Message ids of sealed envelopes received recently (replay protection).
audit_log
    Append-only record of refusals and operator actions (trust/audit.py), a
    Merkle log: seq is its leaf index + 1.
provision_log
    Every provision of a record and every refused query (provision/log.py):
    who, for which task, which items; keys and persons only as keyed hashes.
    A Merkle log by leaf_index.
log_leaves, log_checkpoints, witnessed_logs, cosigned_checkpoints
    The Merkle logs' leaf hashes (kept past the rows' retention), the node's
    signed and witnessed checkpoints, and — as a witness — the last
    checkpoint it cosigned for each log below and every one before it
    (jukinet/transparency).
access_grants
    The access-right ledger: operators' rights, granted, approved (two
    administrators), expired or revoked (trust/access.py).
bulk_approvals
    Approvals recorded by operators for bulk provisions above the threshold.
bulk_streams
    Every bulk stream admitted, by recipient and day: the threshold counts a day's rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, SmallInteger, String, Table, Text

from jukinet.core import sizes
from jukinet.storage.metadata import Id, metadata

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
    # When gossip with another witness of the log proved that its node shows two histories
    # (transparency/gossip.py): from then on this witness cosigns nothing more of it.
    Column("forked_at", DateTime(timezone=True), nullable=True),
)

# As a witness: every checkpoint it ever cosigned, so that another witness's view of the same
# log can be compared with what this one saw at that size.
cosigned_checkpoints = Table(
    "cosigned_checkpoints",
    metadata,
    Column("origin", String(sizes.LOG_ORIGIN), primary_key=True),
    Column("size", Id, primary_key=True, autoincrement=False),
    Column("root", String(sizes.SHA256_HEX), nullable=False),
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

bulk_streams = Table(
    "bulk_streams",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("recipient", String(sizes.SPIFFE_ID), nullable=False),
    Column("day", String(sizes.DATE), nullable=False),  # in Japan, YYYY-MM-DD
    Column("task_id", String(sizes.TASK_ID), nullable=False),
    Column("declared_rows", BigInteger, nullable=False),
    Column("approval_id", String(sizes.UUID), nullable=True),  # None: within the threshold
    Column("admitted_at", DateTime(timezone=True), nullable=False),
)
Index("ix_bulk_streams_recipient_day", bulk_streams.c.recipient, bulk_streams.c.day)
