"""One side's leaves of a municipality at one moment, in key order, for a whole run.

A range's digest is the XOR of its leaves' digests with their count: XOR
because it needs no order and no tree to keep, so each round of the
narrowing is answered from two prefix-XOR lookups per range, whatever its
size. Each leaf digest covers the person's key, so equal leaves never cancel
out across persons.

`SnapshotCache` keeps the tier above's snapshots per run for the run's rounds
(a few at a time, for minutes), so a run compares one moment of each side.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jukinet.consistency.leaves import DIGEST_BYTES, Leaf

KEY_SPACE = 10**11  # 住民票コード: 11 digits


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


class SnapshotCache:
    """Snapshots by (run, municipality, file), built once each, kept `ttl_s` at most."""

    def __init__(self, *, capacity: int = 4, ttl_s: float = 900.0) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, int], tuple[float, Snapshot]] = OrderedDict()

    def get(self, key: tuple[str, str, int], build: Callable[[], Snapshot]) -> Snapshot:
        """The snapshot under `key`, built with `build` the first time it is asked for."""
        now = time.monotonic()
        with self._lock:
            for stale in [k for k, (at, _) in self._entries.items() if now - at > self._ttl_s]:
                del self._entries[stale]
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[1]
            snapshot = build()
            self._entries[key] = (now, snapshot)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            return snapshot
