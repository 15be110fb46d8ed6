"""storage/db: a pooled PostgreSQL connection is tested before use only when it may be dead,
and one the server ended is replaced before a call uses it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from jukinet.storage import Database, open_database
from jukinet.storage import db as storage_db
from tests.helpers.postgres import postgres_server


@pytest.fixture
def pg() -> Iterator[Database]:
    with postgres_server() as url:
        database = open_database(url)
        yield database
        database.dispose()


def _backend(db: Database) -> int:
    with db.reading() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _counting_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_the_server_ended_is_replaced_before_a_call_uses_it(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_db, "PING_AFTER_IDLE_S", 3600.0)  # only the socket can tell
    ended = _backend(pg)
    admin = create_engine(pg.engine.url)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": ended}).scalar()
    admin.dispose()
    time.sleep(0.2)  # the server's goodbye reaches the pooled connection's socket
    for _ in range(3):
        assert _backend(pg) != ended


def test_a_connection_in_steady_use_is_not_pinged_before_each_call(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backend(pg)
    pings = _counting_pings(pg, monkeypatch)
    for _ in range(20):
        _backend(pg)
        with pg.transaction() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    monkeypatch.setattr(storage_db, "PING_AFTER_IDLE_S", 0.05)
    time.sleep(0.1)
    _backend(pg)
    assert pings == [1]  # unused for longer than PING_AFTER_IDLE_S: tested first
