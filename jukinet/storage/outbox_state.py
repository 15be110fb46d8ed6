"""Where an outbox entry stands, as stored, and how a statement names one state.

Its own module beside schema.py, which declares the outbox's partial index per state with it;
changes/outbox.py is what moves entries between the states.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ColumnElement, literal_column


class OutboxState(enum.IntEnum):
    """Where an outbox entry stands; stored as a small integer."""

    PENDING = 1
    DELIVERED = 2
    REJECTED = 3
    HELD = 4  # delivered, and held back by the next hop: asked again until final


def state_is(column: ColumnElement[Any], state: OutboxState) -> ColumnElement[bool]:
    """`column = <n>` with the number written into the SQL, not bound: a database uses a
    partial index of one state only where it sees the constant (SQLite always; PostgreSQL
    once it plans the statement generically)."""
    return column == literal_column(str(int(state)))
