"""Bytes damaged as a careless operator, a bad disk or an attacker would: for the property tests
of the parsers of outside bytes (any input: a value or its one documented error)."""

from __future__ import annotations

from hypothesis import strategies as st

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
