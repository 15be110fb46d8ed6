"""Held changes name their record: fuhyo changes are held too (one person's changes from two
municipalities, applied in order).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("held_changes") as batch:
        batch.add_column(
            sa.Column("record", sa.String(16), nullable=False, server_default="resident")
        )


def downgrade() -> None:
    with op.batch_alter_table("held_changes") as batch:
        batch.drop_column("record")
