"""Where the PostgreSQL programs are: the throwaway server's initdb and pg_ctl, a backup's
pg_dump and pg_restore (Debian keeps them outside PATH, under /usr/lib/postgresql/N/bin)."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path


def bin_dir() -> Path | None:
    """The folder of the newest installed PostgreSQL's programs, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def program(name: str) -> str:
    """The full path of a PostgreSQL program; FileNotFoundError naming it if none is installed."""
    folder = bin_dir()
    found = folder / name if folder and (folder / name).exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name}: no PostgreSQL client programs are installed")
    return str(found)
