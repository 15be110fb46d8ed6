"""One side's leaves of a municipality at one moment, in key order, for a whole run.

A range's digest is the XOR of its leaves' digests with their count: XOR
because it needs no order and no tree to keep, so each round of the
narrowing is answered from two prefix-XOR lookups per range, whatever its
size. Each leaf digest covers the person's key, so equal leaves never cancel
out across persons.

`SnapshotCache` keeps the tier above's snapshot of each caller's run for the run's rounds
(one per caller, a few callers at a time, for minutes), so a run compares one moment of each
side, and bounds what one caller can make this node read.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from jukinet.consistency.leaves import DIGEST_BYTES, Leaf
from jukinet.core.errors import Reason, RefusedError

KEY_SPACE = 10**11  # 住民票コード: 11 digits
# New runs one caller may begin in an hour for one municipality's file: a nightly check, its
# re-runs and an operator's, with room; a caller beginning more is reading this node's files
# for nothing. Counted per file, so a prefecture checking each of its 179 municipalities in
# one night is not refused.
RUNS_PER_HOUR = 30


@dataclass(frozen=True)
class RangeSummary:
    """A range's count and XOR of digests."""

    count: int
    digest: bytes


class Snapshot:
    """Leaves in key order; `summary` of any key range in O(log n)."""

    def __init__(self, leaves: Iterable[Leaf]) -> None:
        self.leaves = sorted(leaves, key=lambda leaf: leaf.key)
        self._keys = [leaf.key for leaf in self.leaves]
        prefix = [0]
        running = 0
        for leaf in self.leaves:
            running ^= int.from_bytes(leaf.digest, "big")
            prefix.append(running)
        self._prefix = prefix

    def __len__(self) -> int:
        return len(self.leaves)

    def _bounds(self, low: int, high: int) -> tuple[int, int]:
        return bisect.bisect_left(self._keys, low), bisect.bisect_left(self._keys, high)

    def summary(self, low: int, high: int) -> RangeSummary:
        """Count and XOR of the digests of the leaves with low <= key < high."""
        start, end = self._bounds(low, high)
        xor = self._prefix[end] ^ self._prefix[start]
        return RangeSummary(end - start, xor.to_bytes(DIGEST_BYTES, "big"))

    def within(self, low: int, high: int) -> list[Leaf]:
        """The leaves with low <= key < high."""
        start, end = self._bounds(low, high)
        return self.leaves[start:end]


@dataclass
class _Held:
    """One caller's snapshot: the run it is for, when it was built, when its runs began."""

    run: tuple[str, str, int] | None = None
    snapshot: Snapshot | None = None
    built: float = 0.0
    # when its recent runs began, per (municipality, file)
    starts: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SnapshotCache:
    """The snapshot of each caller's current run, built once, kept `ttl_s` at most.

    A snapshot costs the reading of a whole municipality's file, so what one caller can make
    this node do is bounded (a compromised node below must not stall its peers): each caller
    holds one run's snapshot at a time (a new run replaces its last), builds it under a lock
    of its own (never the others'), and may begin at most `runs_per_hour` runs an hour of
    one municipality's file (TOO_MANY_RUNS). A run is (run id, municipality, file); at most
    `capacity` callers' snapshots are kept, the least recently used dropped first.
    """

    def __init__(
        self, *, capacity: int = 4, ttl_s: float = 900.0, runs_per_hour: int = RUNS_PER_HOUR
    ) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._runs_per_hour = runs_per_hour
        self._lock = threading.Lock()
        self._callers: OrderedDict[str, _Held] = OrderedDict()

    def _held(self, caller: str) -> _Held:
        with self._lock:
            held = self._callers.setdefault(caller, _Held())
            self._callers.move_to_end(caller)
            built = [c for c, h in self._callers.items() if h.snapshot is not None]
            for dropped in built[: max(0, len(built) - self._capacity)]:
                self._callers[dropped].snapshot = None
            return held

    def get(
        self, caller: str, run: tuple[str, str, int], build: Callable[[], Snapshot]
    ) -> Snapshot:
        """`caller`'s snapshot for `run`, built with `build` the first time it is asked for."""
        held = self._held(caller)
        with held.lock:
            now = time.monotonic()
            if held.run == run and held.snapshot is not None and now - held.built < self._ttl_s:
                return held.snapshot
            if held.run != run:
                held.starts = {
                    file: recent
                    for file, times in held.starts.items()
                    if (recent := [at for at in times if now - at < 3600.0])
                }
                starts = held.starts.setdefault((run[1], run[2]), [])
                if len(starts) >= self._runs_per_hour:
                    raise RefusedError(Reason.TOO_MANY_RUNS)
                starts.append(now)
            held.snapshot = None  # the last run's is let go before the new one is read
            snapshot = build()
            held.run, held.snapshot, held.built = run, snapshot, now
            return snapshot
