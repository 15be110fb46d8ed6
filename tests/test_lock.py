"""What a fresh machine installs: exactly the lock's versions, and one deliberate way to move them.

uv.lock is resolved from pyproject.toml and exported with hashes to requirements/dev.txt
(scripts/up.sh, test.sh, bench.sh) and requirements/runtime.txt (deploy/Dockerfile);
scripts/bootstrap.sh installs only from those, hashes required, and juki-net itself without
resolving again; scripts/lock.sh [--upgrade] changes them and runs the suite (README
"Development"). A library's release day changes nothing here until someone runs it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.helpers.cli import ROOT, assert_one_line_mistake

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)(?: ; (.+?))?(?: \\)?$", re.MULTILINE)


def _locked(lock: Path) -> dict[str, str]:
    """The lock file's versions of the packages whose markers hold on this machine."""
    text = lock.read_text(encoding="utf-8")
    return {
        str(canonicalize_name(name)): version
        for name, version, marker in PIN.findall(text)
        if not marker or Marker(marker).evaluate()
    }


def test_the_suite_runs_on_exactly_the_locked_versions() -> None:
    # What `pip freeze` shows, but for pip itself (the venv's own) and juki-net (the checkout).
    installed = {
        str(canonicalize_name(d.metadata["Name"])): d.version
        for d in importlib.metadata.distributions()
    }
    assert installed.pop("juki-net") and installed.pop("pip")
    locked = _locked(ROOT / "requirements" / "dev.txt")
    assert len(locked) > 50 and locked["cryptography"]
    assert installed == locked


def _run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )


def test_the_lock_and_its_exports_are_current_with_pyproject() -> None:
    done = _run(ROOT / "scripts" / "lock.sh", "--check")
    assert done.returncode == 0, done.stderr


def _checkout_copy(tmp_path: Path) -> Path:
    """What scripts/lock.sh reads, copied, with this checkout's venv (its uv)."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", "uv.lock"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "requirements", copy / "requirements")
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def test_a_lock_behind_pyproject_or_an_edited_export_is_named_in_one_line(tmp_path: Path) -> None:
    copy = _checkout_copy(tmp_path)
    runtime = copy / "requirements" / "runtime.txt"
    runtime.write_text(runtime.read_text(encoding="utf-8") + "six==1.17.0\n", encoding="utf-8")
    edited = _run(copy / "scripts" / "lock.sh", "--check")
    assert edited.returncode == 1 and edited.stderr.count("\n") == 1
    assert "requirements/runtime.txt is not uv.lock's export" in edited.stderr
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"jaconv>=0.4",', '"jaconv>=0.4",\n    "six",'))
    behind = _run(copy / "scripts" / "lock.sh", "--check")
    assert behind.returncode == 1 and behind.stderr.count("\n") == 1
    assert "uv.lock is not current with pyproject.toml" in behind.stderr


def test_lock_and_bootstrap_answer_a_mistake_in_one_line_before_doing_anything() -> None:
    assert_one_line_mistake(_run(ROOT / "scripts" / "lock.sh", "--upgrde"), "'--upgrde'")
    two = _run(ROOT / "scripts" / "lock.sh", "--check", "--upgrade")
    assert_one_line_mistake(two, "one option at most")
    # pip would only warn about an unknown extra and install the rest; a lock is one of the files.
    unknown = _run(ROOT / "scripts" / "bootstrap.sh", "devv")
    assert_one_line_mistake(unknown, "no lock 'devv'", "dev, runtime")


def test_the_image_installs_the_runtime_lock_with_hashes_and_juki_net_without_resolving() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --require-hashes -r requirements/runtime.txt" in text
    assert "pip install --no-cache-dir --no-deps --no-build-isolation ." in text
