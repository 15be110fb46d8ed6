"""Where an outbox entry stands, as stored, and how a statement names one state.

Its own module beside schema.py, which declares the outbox's partial index per state and hop
with it; changes/outbox.py is what moves entries between the states.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ColumnElement, and_, literal_column

from jukinet.core.config import FUHYO_HOP, NEXT_HOP

# The hops an outbox entry can go to (a CS has both, every other node the next hop only).
DESTINATIONS = (NEXT_HOP, FUHYO_HOP)


class OutboxState(enum.IntEnum):
    """Where an outbox entry stands; stored as a small integer."""

    PENDING = 1
    DELIVERED = 2
    REJECTED = 3
    HELD = 4  # delivered, and held back by the next hop: asked again until final


def state_is(column: ColumnElement[Any], state: enum.IntEnum) -> ColumnElement[bool]:
    """`column = <n>` with the number written into the SQL, not bound: a database uses a
    partial index of one state only where it sees the constant (SQLite always; PostgreSQL
    once it plans the statement generically). Outbox entries and versions
    (storage/version_state.py) alike: the partial index and the queries using it are written
    by this one function."""
    return column == literal_column(str(int(state)))


def waiting_for(
    state: ColumnElement[Any], destination: ColumnElement[Any], which: OutboxState, hop: str
) -> ColumnElement[bool]:
    """Entries in state `which` for `hop`, both written into the SQL as state_is does: each
    (state, hop) has a partial index of its own, which PostgreSQL reads in id order and stops
    at a fetch's limit whatever its statistics say (schema.py says why)."""
    if hop not in DESTINATIONS:
        raise ValueError(f"no outbox entry goes to {hop!r}")
    return and_(state_is(state, which), destination == literal_column(f"'{hop}'"))


def partial_index(which: OutboxState, hop: str) -> str:
    """The name of the partial index of entries in state `which` for `hop`."""
    return f"ix_outbox_{which.name.lower()}_{hop}"
