"""Replay protection for sealed envelopes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_envelopes",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seen_envelopes_seen_at", "seen_envelopes", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_envelopes_seen_at", table_name="seen_envelopes")
    op.drop_table("seen_envelopes")
