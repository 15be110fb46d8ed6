"""A node's log file read as its log shipper would: one JSON object per line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def json_lines(log_file: Path) -> list[dict[str, Any]]:
    """Every line of `log_file` as JSON; the test fails naming the first line that is not
    (by number only: a line that is not JSON is not known to be free of data)."""
    lines = []
    for number, line in enumerate(log_file.read_text(encoding="utf-8").splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{log_file.name} line {number} is not JSON")
    return lines
