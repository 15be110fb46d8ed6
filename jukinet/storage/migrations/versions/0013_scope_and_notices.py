"""One node's keys, one node's damage (records/scope.py, changes/above.py, changes/notices.py):
where a 転出 went; each version's state on this node (served, awaiting the tier above, refused
there) and why it was refused, with an index of the awaiting ones by change; whether a
person's current version may be answered; who refused a rejected outbox entry or a received
change; who ran a consistency check; and the notices of refusals from above.

States are written out as they were when this revision was made
(storage/version_state: SERVED = 1, AWAITING = 2).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_VERSIONS = ("resident_versions", "fuhyo_versions")
_CURRENT = ("resident_current", "fuhyo_current")
_WHO = (
    ("outbox", "rejected_by"),
    ("received_changes", "refused_by"),
    ("consistency_runs", "checked_by"),
)


def upgrade() -> None:
    # Columns are added in place (ALTER TABLE … ADD COLUMN, SQLite too): nothing is rebuilt.
    op.add_column(
        "resident_versions",
        sa.Column("moved_to_municipality_code", sa.String(6), nullable=False, server_default=""),
    )
    for name in _VERSIONS:
        op.add_column(name, sa.Column("state", sa.SmallInteger, nullable=False, server_default="1"))
        op.add_column(
            name, sa.Column("refusal_reason", sa.String(64), nullable=False, server_default="")
        )
        op.create_index(
            f"ix_{name}_awaiting",
            name,
            ["change_id"],
            postgresql_where=sa.text("state = 2"),
            sqlite_where=sa.text("state = 2"),
        )
    for name in _CURRENT:
        op.add_column(
            name, sa.Column("served", sa.Boolean, nullable=False, server_default=sa.true())
        )
    for name, column in _WHO:
        op.add_column(name, sa.Column(column, sa.String(255), nullable=False, server_default=""))
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "change_notices",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("change_id", sa.String(36), nullable=False),
        sa.Column("file", sa.SmallInteger, nullable=False),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("refused_by", sa.String(255), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(255), nullable=False, server_default=""),
        sa.UniqueConstraint("change_id", "refused_by", name="uq_change_notices_change"),
    )
    op.create_index("ix_change_notices_municipality", "change_notices", ["municipality_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_change_notices_municipality", table_name="change_notices")
    op.drop_table("change_notices")
    for name, column in _WHO:
        with op.batch_alter_table(name) as table:
            table.drop_column(column)
    for name in _CURRENT:
        with op.batch_alter_table(name) as table:
            table.drop_column("served")
    for name in _VERSIONS:
        op.drop_index(f"ix_{name}_awaiting", table_name=name)
        with op.batch_alter_table(name) as table:
            table.drop_column("refusal_reason")
            table.drop_column("state")
    with op.batch_alter_table("resident_versions") as table:
        table.drop_column("moved_to_municipality_code")
