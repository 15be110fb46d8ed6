"""A throwaway PostgreSQL server (Debian's postgresql package) for storage tests.

Started with initdb/pg_ctl in a temporary folder on a free loopback port; as
root (CI) the server runs as the `postgres` system user, since PostgreSQL
refuses to run as root. Without PostgreSQL binaries the tests are skipped,
unless JUKI_REQUIRE_POSTGRES=1 (set by .ci/run), where they fail instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jukinet.localnet import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a PostgreSQL server for the block; yields a SQLAlchemy URL to its `postgres` DB."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("JUKI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL binaries not found but JUKI_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    as_user: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Its own top-level temporary folder: pytest's are private to root, and the
    # server may run as another user.
    tmp = Path(tempfile.mkdtemp(prefix="juki-pg-"))
    data, sockets = tmp / "pgdata", tmp / "pgsock"
    sockets.mkdir()
    if as_user:
        shutil.chown(tmp, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "juki",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(tmp / "pg.log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield f"postgresql+psycopg://juki@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(tmp, ignore_errors=True)
