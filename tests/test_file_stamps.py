"""When a node reads the files it was given again (core/file_stamps.py): after any change, and
on every look while a change is too recent for the file's stamp to be trusted."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jukinet.core.file_stamps import SETTLE_NS, FileWatch
from jukinet.trust import pki
from tests.helpers.files import rewrite_keeping_the_stamp


def _age(path: Path, seconds: float) -> None:
    then = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(then, then))


def test_a_file_read_long_after_its_change_is_not_read_again_until_it_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "list.pem"
    path.write_bytes(b"first")
    _age(path, 2 * SETTLE_NS / 1e9)
    watch = FileWatch(path)
    stamp = watch.changed()
    assert stamp is not None, "never read: read it"
    watch.seen(stamp)
    assert watch.changed() is None
    pki.write_atomic(path, b"second")  # published by rename: a new inode and time
    assert watch.changed() is not None


def test_a_file_read_just_after_its_change_is_read_again_though_its_stamp_stays(
    tmp_path: Path,
) -> None:
    path = tmp_path / "list.pem"
    path.write_bytes(b"first")
    watch = FileWatch(path)
    stamp = watch.changed()
    assert stamp is not None
    watch.seen(stamp)  # changed just now: the stamp may not move for the next change
    rewrite_keeping_the_stamp(path, b"later")
    assert watch.changed() == stamp, "same stamp, and still reported: read it again"


def test_a_failed_read_is_tried_again(tmp_path: Path) -> None:
    path = tmp_path / "list.pem"
    path.write_bytes(b"first")
    _age(path, 2 * SETTLE_NS / 1e9)
    watch = FileWatch(path)
    stamp = watch.changed()
    assert stamp is not None
    watch.seen(stamp)
    watch.forget()
    assert watch.changed() == stamp
