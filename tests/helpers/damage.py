"""Bytes damaged as a careless operator, a bad disk or an attacker would: for the property tests
of the parsers of outside bytes (any input: a value or its one documented error)."""

from __future__ import annotations

import os

from hypothesis import strategies as st


def examples(n: int) -> int:
    """`n` examples per property in the suite; JUKI_FUZZ_SCALE times as many in a long run
    (scripts/fuzz.sh)."""
    return n * max(1, int(os.environ.get("JUKI_FUZZ_SCALE", "1")))


# Where to cut, which bytes to flip (position, mask) and what to append.
CUTS = st.integers(min_value=0)
FLIPS = st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=4)
TAILS = st.binary(max_size=64)


def damaged(data: bytes, cut: int, flips: list[tuple[int, int]], tail: bytes) -> bytes:
    """`data` cut at `cut` (modulo its length + 1), `tail` appended, then bytes flipped."""
    changed = bytearray(data[: cut % (len(data) + 1)] + tail)
    for at, mask in flips:
        if changed:
            changed[at % len(changed)] ^= mask
    return bytes(changed)
