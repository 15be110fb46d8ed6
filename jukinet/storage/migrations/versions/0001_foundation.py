"""Foundation tables: resident versions, received changes, outbox, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resident_versions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("juminhyo_code", sa.String(11), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("change_id", sa.String(36), nullable=False),
        sa.Column("change_reason", sa.SmallInteger, nullable=False),
        sa.Column("change_date", sa.String(10), nullable=False),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("my_number", sa.String(12), nullable=False),
        sa.Column("name_kanji", sa.String(100), nullable=False),
        sa.Column("name_kana", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("sex", sa.SmallInteger, nullable=False),
        sa.Column("address_municipality_code", sa.String(6), nullable=False),
        sa.Column("address_text", sa.String(200), nullable=False),
        sa.Column("recorded_at", Stamp, nullable=False),
        sa.UniqueConstraint("juminhyo_code", "version", name="uq_resident_versions_code_version"),
    )
    op.create_table(
        "received_changes",
        sa.Column("change_id", sa.String(36), primary_key=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("outcome", sa.SmallInteger, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("change_id", sa.String(36), nullable=False, unique=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("trace_context", sa.String(255), nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("rejection_reason", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("next_attempt_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp, nullable=True),
    )
    op.create_index("ix_outbox_pending", "outbox", ["state", "id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("received_changes")
    op.drop_table("resident_versions")
