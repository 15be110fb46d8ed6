"""The My Number index carries the 住民票コード too: a search by My Number ordered by code is one
index range on PostgreSQL (it walked the primary key and filtered before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_resident_current_my_number", table_name="resident_current")
    op.create_index(
        "ix_resident_current_my_number", "resident_current", ["my_number", "juminhyo_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_resident_current_my_number", table_name="resident_current")
    op.create_index("ix_resident_current_my_number", "resident_current", ["my_number"])
