"""The range comparison on its own (no network): what it finds, and how little it asks."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
from collections.abc import Sequence

import pytest

from juki.v1 import consistency_service_pb2 as pb
from jukinet.consistency.differences import classify
from jukinet.consistency.leaves import Leaf
from jukinet.consistency.narrowing import KeyRange, find_differing, split
from jukinet.consistency.snapshot import KEY_SPACE, RangeSummary, Snapshot, SnapshotCache
from jukinet.core.errors import RefusedError

K = pb.DifferenceKind


class CountingAbove:
    """narrowing.Above over a snapshot in memory, counting what was asked."""

    def __init__(self, leaves: list[Leaf]) -> None:
        self.snapshot = Snapshot(leaves)
        self.round_trips = 0
        self.ranges_asked = 0
        self.leaves_listed = 0

    def summaries(self, ranges: Sequence[KeyRange]) -> list[RangeSummary]:
        self.round_trips += 1
        self.ranges_asked += len(ranges)
        return [self.snapshot.summary(lo, hi) for lo, hi in ranges]

    def leaves(self, ranges: Sequence[KeyRange]) -> list[Leaf]:
        self.round_trips += 1
        listed = [leaf for lo, hi in ranges for leaf in self.snapshot.within(lo, hi)]
        self.leaves_listed += len(listed)
        return listed


def _leaf(key: int, marker: int = 1, content: str = "") -> Leaf:
    return Leaf(key, marker, hashlib.sha256(f"{key}/{marker}/{content}".encode()).digest()[:16])


def _population(count: int, seed: int) -> list[Leaf]:
    rng = random.Random(seed)
    return [_leaf(key) for key in rng.sample(range(KEY_SPACE), count)]


def test_equal_sides_cost_one_digest() -> None:
    leaves = _population(20_000, 1)
    above = CountingAbove(list(leaves))
    assert find_differing(Snapshot(leaves), above) == {}
    assert (above.round_trips, above.ranges_asked, above.leaves_listed) == (1, 1, 0)


def test_ten_differences_of_each_kind_among_a_hundred_thousand() -> None:
    leaves = _population(100_000, 2)
    rng = random.Random(3)
    picked = rng.sample(leaves, 30)
    missing_above, older_above, edited_above = picked[:10], picked[10:20], picked[20:]
    above_leaves = {leaf.key: leaf for leaf in leaves}
    for leaf in missing_above:
        del above_leaves[leaf.key]
    for leaf in older_above:
        above_leaves[leaf.key] = _leaf(leaf.key, marker=0)
    for leaf in edited_above:
        above_leaves[leaf.key] = _leaf(leaf.key, content="changed address")
    extra = [_leaf(key) for key in rng.sample(range(KEY_SPACE), 10)]
    above_leaves.update({leaf.key: leaf for leaf in extra})
    above = CountingAbove(list(above_leaves.values()))
    pairs = find_differing(Snapshot(leaves), above)
    assert set(pairs) == {leaf.key for leaf in [*picked, *extra]}
    kinds = [classify(p.here, p.above, has_marker=True, earlier_here=set) for p in pairs.values()]
    assert sorted(kinds) == sorted(
        [K.DIFFERENCE_KIND_MISSING_ABOVE] * 10
        + [K.DIFFERENCE_KIND_DIFFERENT_VERSION] * 10
        + [K.DIFFERENCE_KIND_DIFFERENT_CONTENT] * 10
        + [K.DIFFERENCE_KIND_MISSING_BELOW] * 10
    )
    # A few round trips, and a few thousand leaves at most: not the hundred thousand.
    assert above.round_trips <= 6
    assert above.leaves_listed < 40 * 32


def test_a_municipality_missing_above_entirely_is_found_without_listing_it() -> None:
    leaves = _population(5_000, 4)
    above = CountingAbove([])
    pairs = find_differing(Snapshot(leaves), above)
    assert len(pairs) == 5_000 and all(p.above is None for p in pairs.values())
    assert (above.round_trips, above.leaves_listed) == (1, 0)


def test_a_split_covers_its_range_exactly() -> None:
    for low, high in ((0, KEY_SPACE), (5, 21), (7, 9), (10, 11)):
        parts = split(low, high)
        assert parts[0][0] == low and parts[-1][1] == high
        assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
        assert all(lo < hi for lo, hi in parts) and len(parts) <= 16


def test_fuhyo_versions_are_older_when_the_lower_tier_held_them_before() -> None:
    now, before = _leaf(1, 0, "now"), _leaf(1, 0, "before")
    assert classify(now, before, has_marker=False, earlier_here=lambda: {before.digest}) == (
        K.DIFFERENCE_KIND_DIFFERENT_VERSION
    )
    assert classify(now, _leaf(1, 0, "never"), has_marker=False, earlier_here=set) == (
        K.DIFFERENCE_KIND_DIFFERENT_CONTENT
    )
    # Above ahead of the truth below is never "older": it waits for an operator.
    assert classify(_leaf(1, 1), _leaf(1, 2), has_marker=True, earlier_here=set) == (
        K.DIFFERENCE_KIND_DIFFERENT_CONTENT
    )


def test_a_caller_holds_one_snapshot_and_begins_only_so_many_runs() -> None:
    cache = SnapshotCache(runs_per_hour=2)
    built: list[str] = []

    def build(name: str) -> Snapshot:
        built.append(name)
        return Snapshot([])

    cs = "spiffe://juki.example/cs/141003"
    first = cache.get(cs, ("run-1", "141003", 1), lambda: build("1"))
    assert cache.get(cs, ("run-1", "141003", 1), lambda: build("again")) is first
    cache.get(cs, ("run-2", "141003", 1), lambda: build("2"))
    with pytest.raises(RefusedError) as refused:
        cache.get(cs, ("run-3", "141003", 1), lambda: build("3"))
    assert refused.value.reason == "TOO_MANY_RUNS"
    # The run under way is still answered, and another caller has a budget of its own.
    cache.get(cs, ("run-2", "141003", 1), lambda: build("2 again"))
    cache.get("spiffe://juki.example/cs/141305", ("run-9", "141305", 1), lambda: build("9"))
    assert built == ["1", "2", "9"]


def test_a_prefecture_checks_every_municipality_of_its_night() -> None:
    """The budget is per municipality's file: Hokkaido's 179 municipalities in one night."""
    cache = SnapshotCache(runs_per_hour=2)
    prefecture = "spiffe://juki.example/prefecture/01"
    for number in range(179):
        cache.get(prefecture, (f"run-{number}", f"01{number:04d}", 1), lambda: Snapshot([]))
    cache.get(prefecture, ("again-1", "010000", 1), lambda: Snapshot([]))
    with pytest.raises(RefusedError):
        cache.get(prefecture, ("again-2", "010000", 1), lambda: Snapshot([]))


def test_one_callers_slow_snapshot_does_not_hold_up_another() -> None:
    cache = SnapshotCache()
    reading, release = threading.Event(), threading.Event()

    def slow() -> Snapshot:
        reading.set()
        release.wait(10)
        return Snapshot([])

    slow_caller = threading.Thread(
        target=cache.get, args=("spiffe://juki.example/cs/141003", ("a", "141003", 1), slow)
    )
    slow_caller.start()
    assert reading.wait(10)
    other = cache.get("spiffe://juki.example/cs/141305", ("b", "141305", 1), lambda: Snapshot([]))
    assert len(other) == 0 and slow_caller.is_alive()
    release.set()
    slow_caller.join(10)
