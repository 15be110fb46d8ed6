"""The README's walk-through for separate hosts, read as commands: (host, juki-net argv).

The ```sh blocks of the section "Running nodes on separate hosts" prefix each
command with the host it runs on (``prefecture$ juki-net …``); continuation
lines are joined and a trailing ``# comment`` dropped.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SECTION = "## Running nodes on separate hosts"


def host_walkthrough() -> list[tuple[str, list[str]]]:
    """Every `juki-net` command of the section, with the host it runs on, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            host, sep, command = line.split("  # ", 1)[0].partition("$ ")
            if not sep:
                continue
            argv = shlex.split(command)
            assert argv[0] == "juki-net", f"not a juki-net command: {line}"
            commands.append((host.strip(), argv[1:]))
    return commands


def subcommand(argv: list[str]) -> tuple[str, ...]:
    """The command words before the first option: ("node", "init"), ("serve",) …"""
    words = []
    for word in argv:
        if word.startswith("-"):
            break
        words.append(word)
    return tuple(words)


def options(argv: list[str]) -> set[str]:
    """The option names a command uses."""
    return {word.split("=", 1)[0] for word in argv if word.startswith("--")}
