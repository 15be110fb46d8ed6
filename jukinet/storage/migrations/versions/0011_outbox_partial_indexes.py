"""The outbox's pending and held entries each in a partial index of their own: a deliverer's
fetch no longer walks past every delivered entry (PostgreSQL did, on the primary key, when its
statistics made pending entries look common).

The states are written as numbers, as they were when this revision was made
(storage/outbox_state.OutboxState: PENDING = 1, HELD = 4).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_STATES = {"ix_outbox_pending": "state = 1", "ix_outbox_held": "state = 4"}


def upgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    for name, where in _STATES.items():
        op.create_index(
            name,
            "outbox",
            ["id"],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name in _STATES:
        op.drop_index(name, table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["state", "id"])
