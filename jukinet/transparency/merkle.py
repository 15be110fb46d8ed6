"""RFC 9162 Merkle trees: leaf and node hashing, roots, inclusion and consistency proofs.

Why by hand: no maintained Python package implements RFC 9162's proofs (the
Go reference is transparency-dev/merkle); this module follows the RFC's
definitions line by line (section 2.1) and is checked against that
project's test vectors (tests/data/merkle).

`Tree` holds the leaf hashes and every complete subtree above them, so a
root or a proof for any earlier size costs O(log n) hashes, not O(n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(Exception):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """An append-only Merkle tree over leaf hashes, keeping every complete subtree."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # levels[k][i] is the hash of the complete subtree of leaves [i·2^k, (i+1)·2^k).
        self._levels: list[list[bytes]] = [[]]
        for hashed in leaf_hashes:
            self.append(hashed)

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self._levels[0])

    def append(self, hashed: bytes) -> None:
        """Add one leaf hash, completing the subtrees it closes."""
        self._levels[0].append(hashed)
        level, index = 0, self.size - 1
        while index % 2 == 1:
            parent = node_hash(self._levels[level][index - 1], self._levels[level][index])
            level, index = level + 1, index // 2
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(parent)

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index`."""
        return self._levels[0][index]

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]); lo is always aligned to the subtree the RFC recursion visits."""
        n = hi - lo
        if n & (n - 1) == 0:  # a complete subtree, stored
            level = n.bit_length() - 1
            return self._levels[level][lo >> level]
        k = _split(n)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first `size` leaves (all by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError("the leaf is not in a tree of that size")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self._hash(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._hash(lo, lo + k)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1."""
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ProofError("the old size is larger than the new one")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self._hash(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._hash(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._hash(lo, lo + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ProofError("the tree has not reached that size")


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a hash in the proof is not 32 bytes")


def verify_inclusion(
    index: int, size: int, hashed: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf hash `hashed` is leaf `index` of the tree (`size`, `root`) (2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError("the leaf index is outside the tree")
    _check_hashes(hashed, root, *proof)
    fn, sn, r = index, size - 1, hashed
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that tree (`new_size`, `new_root`) extends (`old_size`, `old_root`) (2.1.4.2).

    As in transparency-dev/merkle, an empty old tree is an error: nothing was
    promised yet, so a caller starts from the first checkpoint it trusts.
    """
    if not 0 < old_size <= new_size:
        raise ProofError("the old tree is empty or larger than the new one")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("two trees of one size have different roots")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes(old_root, new_root, *proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise ProofError("the new tree does not extend the old one")
