"""A witness keeps every checkpoint it cosigned, and marks a log whose node it caught showing
two histories (transparency/gossip.py): it cosigns nothing more of that log.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "cosigned_checkpoints",
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("size", id_type, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("witnessed_logs") as batch:
        batch.add_column(sa.Column("forked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("witnessed_logs") as batch:
        batch.drop_column("forked_at")
    op.drop_table("cosigned_checkpoints")
