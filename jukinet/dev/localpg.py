"""A throwaway PostgreSQL server for the benchmark and the tests (Debian's postgresql package).

Started with initdb/pg_ctl in a temporary folder on a free loopback port, with trust
authentication for the `juki` role on loopback only; as root the server runs as the
`postgres` system user, since PostgreSQL refuses to run as root. It is stopped and its folder
removed when the block ends. Not for production: a real deployment points `database_url` at a
managed server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from jukinet.dev.topology import free_port
from jukinet.storage.postgres_bin import bin_dir

START_TIMEOUT_S = 120


@contextmanager
def postgres_server(*, fsync: bool = True) -> Iterator[str]:
    """Run a server for the block; yields a SQLAlchemy URL to its `postgres` database.

    `fsync=False` is for tests that do not measure durability or speed.
    """
    binaries = bin_dir()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL binaries not found (apt-get install postgresql)")
    as_user: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Its own top-level temporary folder: the server may run as another user.
    tmp = Path(tempfile.mkdtemp(prefix="juki-pg-"))
    data, sockets = tmp / "pgdata", tmp / "pgsock"
    sockets.mkdir()
    if as_user:
        shutil.chown(tmp, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "juki", "--auth=trust", "-E", "UTF8"]
    subprocess.run(  # noqa: S603 - the installed PostgreSQL binaries
        [*as_user, *initdb], check=True, capture_output=True, timeout=START_TIMEOUT_S
    )
    durability = "on" if fsync else "off"
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync={durability}"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data)]
    subprocess.run(  # noqa: S603
        [*as_user, *pg_ctl, "-o", options, "-l", str(tmp / "pg.log"), "-w", "start"],
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    try:
        yield f"postgresql+psycopg://juki@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(  # noqa: S603
            [*as_user, *pg_ctl, "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url`; its URL."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
