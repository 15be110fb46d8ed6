"""Every file path the .proto comments and the docs quote exists: a comment citing a moved
module (jukinet/lifecycle.py, jukinet/tasks.toml) sends a vendor nowhere."""

from __future__ import annotations

import re

from tests.helpers.cli import ROOT

QUOTED = re.compile(
    r"(?:jukinet|services|tests|scripts|bench|certs)/[A-Za-z0-9_/.-]+\.(?:py|toml|sh|json|js)\b"
)


def test_every_quoted_path_exists() -> None:
    sources = [*ROOT.glob("protos/**/*.proto"), ROOT / "README.md", *ROOT.glob("docs/*.md")]
    quoted = {
        (path.relative_to(ROOT).as_posix(), found)
        for path in sources
        for found in QUOTED.findall(path.read_text(encoding="utf-8"))
    }
    assert len(quoted) > 20  # the pattern still finds what the docs quote
    missing = sorted((where, found) for where, found in quoted if not (ROOT / found).exists())
    assert missing == []
