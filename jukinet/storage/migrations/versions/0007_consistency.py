"""整合性確認: comparison runs and their differences; versions found by municipality.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("resident_versions", "fuhyo_versions"):
        op.create_index(
            f"ix_{table}_municipality", table, ["municipality_code", "juminhyo_code", "version"]
        )
    op.create_table(
        "consistency_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("file", sa.SmallInteger, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_consistency_runs_latest",
        "consistency_runs",
        ["municipality_code", "file", "finished_at"],
    )
    op.create_table(
        "consistency_differences",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("juminhyo_code", sa.String(11), primary_key=True),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("repair", sa.SmallInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consistency_differences")
    op.drop_index("ix_consistency_runs_latest", table_name="consistency_runs")
    op.drop_table("consistency_runs")
    for table in ("resident_versions", "fuhyo_versions"):
        op.drop_index(f"ix_{table}_municipality", table_name=table)
