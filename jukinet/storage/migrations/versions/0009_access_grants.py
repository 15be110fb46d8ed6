"""The access-right ledger.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_grants",
        sa.Column("grant_id", sa.String(36), primary_key=True),
        sa.Column("operator", sa.String(255), nullable=False),
        sa.Column("rights", sa.String(200), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(255)),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", sa.String(255)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_access_grants_operator", "access_grants", ["operator"])


def downgrade() -> None:
    op.drop_index("ix_access_grants_operator", table_name="access_grants")
    op.drop_table("access_grants")
