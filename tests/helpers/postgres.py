"""The PostgreSQL server of storage tests: jukinet.dev.localpg's, or a skip where it is missing.

Without PostgreSQL binaries the tests are skipped, unless JUKI_REQUIRE_POSTGRES=1 (set by
.ci/run), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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
