"""Finding the persons whose leaves differ between this node and the tier above, sending
digests, not records.

Start with the whole key space; where the two sides' summaries (count, XOR of digests) of a
range agree, the range is equal; where they differ, split it into FANOUT parts and ask again,
one round trip per level for every differing range of that level. A range is listed leaf by
leaf once either side has at most LIST_AT leaves in it, or it is empty on one side (then every
leaf of the other is a difference). With d differences among n persons this costs about
log_16(n / LIST_AT) round trips and O(d · FANOUT · log n) digests, whatever n is.

`find_differing` talks to the tier above only through an `Above`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from jukinet.consistency.leaves import Leaf
from jukinet.consistency.snapshot import KEY_SPACE, RangeSummary, Snapshot

FANOUT = 16
LIST_AT = 32
MAX_RANGES = 4096  # ranges in one request
MAX_LISTED = 10_000  # leaves in one answer

KeyRange = tuple[int, int]


class Above(Protocol):
    """The tier above's side of a run: summaries and leaves of key ranges of its snapshot."""

    def summaries(self, ranges: Sequence[KeyRange]) -> list[RangeSummary]: ...

    def leaves(self, ranges: Sequence[KeyRange]) -> list[Leaf]: ...


@dataclass(frozen=True)
class Pair:
    """A person's leaf here and above (None where the side has none); they differ."""

    here: Leaf | None
    above: Leaf | None


def split(low: int, high: int) -> list[KeyRange]:
    """`[low, high)` in FANOUT nearly equal parts (fewer if it is narrower)."""
    width = high - low
    parts = min(FANOUT, width)
    bounds = [low + width * i // parts for i in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def _chunks(ranges: Sequence[KeyRange], size: int) -> Iterator[Sequence[KeyRange]]:
    for start in range(0, len(ranges), size):
        yield ranges[start : start + size]


def _list_batches(listed: Sequence[tuple[KeyRange, int]]) -> Iterator[list[KeyRange]]:
    """Ranges to list, grouped so one answer holds at most MAX_LISTED leaves."""
    batch: list[KeyRange] = []
    total = 0
    for key_range, count in listed:
        if batch and (total + count > MAX_LISTED or len(batch) == MAX_RANGES):
            yield batch
            batch, total = [], 0
        batch.append(key_range)
        total += count
    if batch:
        yield batch


def find_differing(here: Snapshot, above: Above) -> dict[int, Pair]:
    """Every person whose leaf differs between `here` and `above`, by key."""
    frontier: list[KeyRange] = [(0, KEY_SPACE)]
    listed: list[tuple[KeyRange, int]] = []  # ranges to list above, with their count there
    only_here: list[KeyRange] = []  # ranges empty above: our leaves all differ
    while frontier:
        deeper: list[KeyRange] = []
        for part in _chunks(frontier, MAX_RANGES):
            for (low, high), theirs in zip(part, above.summaries(part), strict=True):
                ours = here.summary(low, high)
                if ours == theirs:
                    continue
                if theirs.count == 0:
                    only_here.append((low, high))
                elif (
                    (ours.count == 0 and theirs.count <= MAX_LISTED)
                    or max(ours.count, theirs.count) <= LIST_AT
                    or high - low <= FANOUT
                ):
                    listed.append(((low, high), theirs.count))
                else:
                    deeper.extend(split(low, high))
        frontier = deeper
    pairs: dict[int, Pair] = {}
    for key_range in only_here:
        for leaf in here.within(*key_range):
            pairs[leaf.key] = Pair(leaf, None)
    for batch in _list_batches(listed):
        theirs_by_key = {leaf.key: leaf for leaf in above.leaves(batch)}
        ours_by_key = {leaf.key: leaf for r in batch for leaf in here.within(*r)}
        for key in ours_by_key.keys() | theirs_by_key.keys():
            here_leaf, above_leaf = ours_by_key.get(key), theirs_by_key.get(key)
            if here_leaf != above_leaf:
                pairs[key] = Pair(here_leaf, above_leaf)
    return pairs
