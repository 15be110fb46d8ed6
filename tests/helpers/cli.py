"""Running `juki-net` as a person would: a subprocess of this interpreter, never an import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
JUKI_NET = [sys.executable, "-m", "jukinet.cli"]


def juki_net(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run one juki-net command to its end; its exit status and output."""
    return subprocess.run(
        [*JUKI_NET, *args], capture_output=True, text=True, timeout=90, check=False, cwd=cwd
    )
