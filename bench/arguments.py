"""What the benchmark commands accept, checked before anything is measured.

A mistake is one line from argparse and exit status 2 — not a traceback, and not a quarter of
an hour of measuring first (an unwritable --json folder, a zero count, a database kind that
does not exist). Every benchmark command takes its argument types from here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

DATABASES = ("sqlite", "postgresql")


def at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """A whole number of at least `minimum` (`why` says what needs that many)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{why}")
        return value

    return parse


count = at_least(1)
"""Calls, changes, residents, rounds: at least one."""


def seconds(text: str) -> float:
    """A time in seconds, above zero and finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("must be above zero")
    return value


def databases(text: str) -> list[str]:
    """Database kinds, comma-separated, each once."""
    names = [name.strip() for name in text.split(",")]
    if any(name not in DATABASES for name in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"give {' or '.join(DATABASES)} or both, comma-separated, each once"
        )
    return names


def json_file(text: str) -> Path:
    """Where the figures are written at the end: its folder must exist now."""
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"there is no folder {str(path.parent)!r} to write it in")
    return path
