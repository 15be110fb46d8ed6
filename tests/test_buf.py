"""The protos as a contract: `buf lint` and `buf breaking` (scripts/test.sh runs both against
the newest release in protos/releases) pass today, and do catch what they are there for — a
field renumbered or removed, an RPC renamed, a message named against the style.

Skipped where npm's buf is missing, unless JUKI_REQUIRE_NODE is set (scripts/test.sh sets it
after `npm ci`, which installs buf with the Node client)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "tests" / "clients" / "node" / "node_modules" / ".bin" / "buf"
RELEASES = ROOT / "protos" / "releases"


@pytest.fixture(scope="module")
def buf() -> Path:
    if not BUF.exists():
        if os.environ.get("JUKI_REQUIRE_NODE"):
            pytest.fail("buf is missing: npm ci --prefix tests/clients/node")
        pytest.skip("buf is missing (npm ci --prefix tests/clients/node)")
    return BUF


def _workspace(tmp_path: Path) -> Path:
    """A copy of the repository's buf workspace: buf.yaml, protos/ and its releases."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    return tmp_path


def _buf(buf: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf), *args], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )


def _release() -> Path:
    return sorted(RELEASES.glob("v*.binpb"), key=lambda p: [int(x) for x in p.stem[1:].split(".")])[
        -1
    ]


def test_the_protos_pass_lint_and_break_nothing_since_the_last_release(buf: Path) -> None:
    assert _buf(buf, ROOT, "lint").returncode == 0
    done = _buf(buf, ROOT, "breaking", "--against", str(_release()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_renumbered_field_and_a_badly_named_message_are_caught(buf: Path, tmp_path: Path) -> None:
    folder = _workspace(tmp_path)
    proto = folder / "protos" / "juki" / "v1" / "transparency_service.proto"
    text = proto.read_text(encoding="utf-8")
    changed = text.replace(
        "  uint64 old_size = 2;\n  // RFC 9162", "  uint64 old_size = 9;\n  // RFC 9162", 1
    )
    assert changed != text
    proto.write_text(changed + "\n// A message.\nmessage bad_name {}\n", encoding="utf-8")
    broken = _buf(buf, folder, "breaking", "--against", str(_release()))
    assert broken.returncode != 0 and "AddCheckpointRequest" in broken.stdout
    linted = _buf(buf, folder, "lint")
    assert linted.returncode != 0 and "bad_name" in linted.stdout
