"""Whether files a node was given may have changed since it last read them: the one rule every
watcher of such files keeps (TLS material, CRLs, sealing keys, the key directory).

A file's stamp is its inode, modification time and size: a file published by rename
(`pki.write_atomic`) is a new inode, one rewritten in place has a new time or size. File times
come from a coarse clock (a kernel tick, not the nanoseconds they are given in), so a file
rewritten twice within one tick, at the same size, into an inode number just freed, can keep
its stamp: a stamp is trusted to stand for the contents only once it is `SETTLE_NS` old (git's
"racy clean" rule). Until then the files are read again on every look — for a CRL, the
difference between a revocation that takes effect and one that is missed until the next change.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

Stamp = tuple[tuple[int, int, int], ...]

# Longer than any file clock's tick; short enough that the extra reads after a change are few.
SETTLE_NS = 100_000_000


def stamp_of(*paths: Path) -> Stamp:
    """The files' (inode, modification time in ns, size), in order; OSError if one is missing."""
    stats = [os.stat(path) for path in paths]
    return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)


def settled(stamp: Stamp) -> bool:
    """Whether every file of `stamp` was last changed long enough ago to trust its stamp."""
    newest = max((mtime for _, mtime, _ in stamp), default=0)
    return time.time_ns() - newest > SETTLE_NS


class FileWatch:
    """The stamp of some files when they were last read, and whether to read them again."""

    def __init__(self, *paths: Path) -> None:
        self._paths = paths
        self._seen: Stamp | None = None

    def changed(self) -> Stamp | None:
        """None if the files are as when last `seen`; else their stamp now, to pass to `seen`
        once they are read. OSError if a file is missing."""
        stamp = stamp_of(*self._paths)
        return None if stamp == self._seen else stamp

    def seen(self, stamp: Stamp) -> None:
        """The files were read when their stamp was `stamp` (taken before the read: a change
        during it shows as a new stamp at the next look). A stamp too recent to trust is not
        kept, so the files are read again next time."""
        self._seen = stamp if settled(stamp) else None

    def forget(self) -> None:
        """Read the files again at the next look (the last read failed)."""
        self._seen = None
