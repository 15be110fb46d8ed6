"""Merkle logs: leaves, checkpoints, witnessed logs; provision_log.leaf_index; no audit chain.

Rows already logged become the first leaves, in the order they were written
(provision_log.id, audit_log.seq), hashed as jukinet.transparency.tlog does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from jukinet.transparency import tlog

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("log", sa.String(16), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("witnessed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "witnessed_logs",
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("provision_log") as batch:
        batch.add_column(sa.Column("leaf_index", sa.BigInteger, nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("prev_hash")
        batch.drop_column("hash")
    _leaves_of_rows_already_logged()
    with op.batch_alter_table("provision_log") as batch:
        batch.alter_column("leaf_index", existing_type=sa.BigInteger, nullable=False)
        batch.create_unique_constraint("uq_provision_log_leaf_index", ["leaf_index"])


def _typed(spec: tlog.LogSpec, name: str) -> sa.ColumnClause[object]:
    """A column typed as the table has it, so times are read back as the node wrote them."""
    return sa.column(name, spec.table.c[name].type)


def _leaves_of_rows_already_logged() -> None:
    conn = op.get_bind()
    leaves = sa.table(
        "log_leaves", sa.column("log"), sa.column("leaf_index"), sa.column("leaf_hash")
    )
    provision = sa.table(
        "provision_log",
        *(_typed(tlog.PROVISION, c) for c in ("id", "leaf_index", *tlog.PROVISION.fields)),
    )
    rows = conn.execute(sa.select(provision).order_by(provision.c.id)).mappings()
    for index, row in enumerate(list(rows)):
        conn.execute(
            sa.update(provision).where(provision.c.id == row["id"]).values(leaf_index=index)
        )
        hashed = tlog.leaf_hash_of(tlog.PROVISION, index, row).hex()
        conn.execute(sa.insert(leaves).values(log="provision", leaf_index=index, leaf_hash=hashed))
    audit = sa.table("audit_log", *(_typed(tlog.AUDIT, c) for c in ("seq", *tlog.AUDIT.fields)))
    for row in list(conn.execute(sa.select(audit).order_by(audit.c.seq)).mappings()):
        index = int(row["seq"]) - 1
        hashed = tlog.leaf_hash_of(tlog.AUDIT, index, row).hex()
        conn.execute(sa.insert(leaves).values(log="audit", leaf_index=index, leaf_hash=hashed))


def downgrade() -> None:
    with op.batch_alter_table("provision_log") as batch:
        batch.drop_constraint("uq_provision_log_leaf_index", type_="unique")
        batch.drop_column("leaf_index")
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=False, server_default=""))
    op.drop_table("witnessed_logs")
    op.drop_table("log_checkpoints")
    op.drop_table("log_leaves")
