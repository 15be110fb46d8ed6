"""The PostgreSQL server of storage tests: jukinet.dev.localpg's, or a skip where it is missing.

Without PostgreSQL binaries the tests are skipped, unless JUKI_REQUIRE_POSTGRES=1 (set by
.ci/run), where they fail instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg import pq
from sqlalchemy import Connection

from jukinet.dev import localpg
from jukinet.storage import postgres_bin


def require_postgres() -> None:
    """Skip the test (or fail it, under JUKI_REQUIRE_POSTGRES=1) without PostgreSQL binaries."""
    if postgres_bin.bin_dir() is None:
        if os.environ.get("JUKI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL binaries not found but JUKI_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a PostgreSQL server (fsync off) for the block; yields a URL to its `postgres` DB."""
    require_postgres()
    with localpg.postgres_server(fsync=False) as url:
        yield url


@contextmanager
def round_trips(conn: Connection) -> Iterator[list[str]]:
    """The round trips `conn` makes to PostgreSQL during the block, filled at its end: from
    libpq's trace, each run of messages the client sent before the server next answered
    (the first line of each, e.g. ``Parse "" "BEGIN"`` or ``Query "COMMIT"``)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    found: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        driver.pgconn.trace(trace.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield found
        finally:
            driver.pgconn.untrace()
        trace.seek(0)
        lines = [line.split("\t") for line in trace.read().splitlines()]
    sending = False
    for line in lines:
        if line[0] == "F" and not sending:
            found.append(" ".join(line[2:]).strip())
        if line[0] in ("F", "B"):
            sending = line[0] == "F"
