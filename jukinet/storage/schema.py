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
seen_envelopes, audit_log, provision_log, log_leaves, log_checkpoints, witnessed_logs,
cosigned_checkpoints, access_grants, bulk_approvals, bulk_streams
    The replay guard, the tamper-evident logs and the access-right ledger: declared in
    log_tables.py (beside this module, on the same metadata), importable from here.
fuhyo_versions, fuhyo_current
    附票本人確認情報 (the 18 items of seed 003 別添2 (2)), kept like the
    resident record: versions only inserted, an index of the latest. No My
    Number column exists, by design.
consistency_runs, consistency_differences
    整合性確認 (jukinet/consistency): each comparison of a municipality's
    file with the tier above — its report (counts only, serialized
    ConsistencyReport) — and the persons found different, with what was done
    about each, so an operator can approve the repairs that wait.
change_notices
    Changes this node took and a tier above refused (誤りの通報), each for the
    municipality that entered it until acknowledged: at a CS its register
    system's, at a prefecture or fuhyo server its CS's (changes/notices.py).
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
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    false,
    true,
)

from jukinet.core import sizes

# The log and ledger tables, importable from here like every other table.
from jukinet.storage.log_tables import (
    access_grants as access_grants,
)
from jukinet.storage.log_tables import (
    audit_log as audit_log,
)
from jukinet.storage.log_tables import (
    bulk_approvals as bulk_approvals,
)
from jukinet.storage.log_tables import (
    bulk_streams as bulk_streams,
)
from jukinet.storage.log_tables import (
    cosigned_checkpoints as cosigned_checkpoints,
)
from jukinet.storage.log_tables import (
    log_checkpoints as log_checkpoints,
)
from jukinet.storage.log_tables import (
    log_leaves as log_leaves,
)
from jukinet.storage.log_tables import (
    provision_log as provision_log,
)
from jukinet.storage.log_tables import (
    seen_envelopes as seen_envelopes,
)
from jukinet.storage.log_tables import (
    witnessed_logs as witnessed_logs,
)
from jukinet.storage.metadata import Id, metadata
from jukinet.storage.outbox_state import (
    DESTINATIONS,
    OutboxState,
    partial_index,
    state_is,
    waiting_for,
)
from jukinet.storage.version_state import VersionState

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

# Added in revision 0013 (records/scope.py): where a 転出 went, a version's state on this node
# (storage/version_state.py) and, for a refused one, why.
resident_versions.append_column(
    Column(
        "moved_to_municipality_code",
        String(sizes.MUNICIPALITY_CODE),
        nullable=False,
        server_default="",
    )
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
# Added in revision 0013: the person's current version may be answered (its state is SERVED).
resident_current.append_column(Column("served", Boolean, nullable=False, server_default=true()))
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
# Added in revision 0013: for a rejected entry, the node that refused it (the next hop, or a
# tier above it whose refusal came down as a notice).
outbox.append_column(
    Column("rejected_by", String(sizes.SPIFFE_ID), nullable=False, server_default="")
)
# Added in revision 0013: a change this node took and a tier above refused since: who refused
# it ("" when this node did).
received_changes.append_column(
    Column("refused_by", String(sizes.SPIFFE_ID), nullable=False, server_default="")
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
fuhyo_current.append_column(Column("served", Boolean, nullable=False, server_default=true()))

# Added in revision 0013 to both version tables: the version's state on this node and, for a
# refused one, the reason; the awaiting ones indexed by the change that brought them, so the
# tier above's answer confirms them without reading the rest (changes/above.py).
for _versions in (resident_versions, fuhyo_versions):
    _versions.append_column(
        Column(
            "state",
            SmallInteger,
            nullable=False,
            server_default=str(int(VersionState.SERVED)),
        )
    )
    _versions.append_column(
        Column("refusal_reason", String(sizes.REASON), nullable=False, server_default="")
    )
    _awaiting = state_is(_versions.c.state, VersionState.AWAITING)
    Index(
        f"ix_{_versions.name}_awaiting",
        _versions.c.change_id,
        postgresql_where=_awaiting,
        sqlite_where=_awaiting,
    )

# What a version row holds for this node alone: its row id, its number in this node's history,
# the change id that brought it (a consistency repair brings it under a new one) and when it
# was recorded. Every other column is the record, the same on every tier that holds it.
BOOKKEEPING = frozenset({"id", "version", "change_id", "recorded_at", "state", "refusal_reason"})


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

# Added in revision 0013: who ran the check (an operator, or the node on its schedule); its
# repairs are approved by someone else (consistency/runner.py).
consistency_runs.append_column(
    Column("checked_by", String(sizes.SPIFFE_ID), nullable=False, server_default="")
)

consistency_differences = Table(
    "consistency_differences",
    metadata,
    Column("run_id", String(sizes.UUID), primary_key=True),
    Column("juminhyo_code", String(sizes.JUMINHYO_CODE), primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    Column("repair", SmallInteger, nullable=False),
)

# Revision 0013 (changes/notices.py): refusals from above, for the municipality that entered the
# change, until it acknowledges them. No record: the change id names the change.
change_notices = Table(
    "change_notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("change_id", String(sizes.UUID), nullable=False),
    Column("file", SmallInteger, nullable=False),
    Column("municipality_code", String(sizes.MUNICIPALITY_CODE), nullable=False),
    Column("reason", String(sizes.REASON), nullable=False),
    Column("refused_by", String(sizes.SPIFFE_ID), nullable=False),
    Column("noticed_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by", String(sizes.SPIFFE_ID), nullable=False, server_default=""),
    UniqueConstraint("change_id", "refused_by", name="uq_change_notices_change"),
)
Index("ix_change_notices_municipality", change_notices.c.municipality_code, change_notices.c.id)
