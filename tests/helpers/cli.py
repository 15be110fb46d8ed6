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


def assert_one_line_mistake(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit status 2, exactly one line on stderr naming the problem, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
