"""The provision log and bulk-provision approvals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "provision_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fiscal_year", sa.SmallInteger, nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("operator_id", sa.String(32), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("key_kind", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("items_given", sa.String(200), nullable=False),
    )
    op.create_index("ix_provision_log_at", "provision_log", ["at"])
    op.create_index("ix_provision_log_subject", "provision_log", ["subject_hash"])
    op.create_index("ix_provision_log_year_task", "provision_log", ["fiscal_year", "task_id"])
    op.create_table(
        "bulk_approvals",
        sa.Column("approval_id", sa.String(36), primary_key=True),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("max_rows", sa.BigInteger, nullable=False),
        sa.Column("approved_by", sa.String(255), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("bulk_approvals")
    for name in ("ix_provision_log_year_task", "ix_provision_log_subject", "ix_provision_log_at"):
        op.drop_index(name, table_name="provision_log")
    op.drop_table("provision_log")
