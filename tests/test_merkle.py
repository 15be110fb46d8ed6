"""RFC 9162 Merkle trees against the transparency-dev/merkle vectors (tests/data/merkle)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from jukinet.transparency import merkle

DATA = Path(__file__).parent / "data" / "merkle"
# transparency-dev/merkle testonly.LeafInputs() and RootHashes().
LEAVES = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _vectors(kind: str) -> list[tuple[str, dict[str, object]]]:
    files = sorted((DATA / kind).rglob("*.json"))
    assert len(files) > 50
    return [(str(f.relative_to(DATA)), json.loads(f.read_text())) for f in files]


def _b(value: object) -> bytes:
    return base64.b64decode(value) if isinstance(value, str) else b""


def _proof(value: object) -> list[bytes]:
    return [base64.b64decode(p) for p in value] if isinstance(value, list) else []


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def test_roots_of_every_size_match_the_reference() -> None:
    tree = merkle.Tree(merkle.leaf_hash(leaf) for leaf in LEAVES)
    assert [tree.root(n).hex() for n in range(9)] == ROOTS


@pytest.mark.parametrize(("name", "case"), _vectors("inclusion"))
def test_inclusion_vectors(name: str, case: dict[str, object]) -> None:
    args = (_int(case["leafIdx"]), _int(case["treeSize"]), _b(case["leafHash"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args, _proof(case["proof"]), _b(case["root"]))
    else:
        merkle.verify_inclusion(*args, _proof(case["proof"]), _b(case["root"]))


@pytest.mark.parametrize(("name", "case"), _vectors("consistency"))
def test_consistency_vectors(name: str, case: dict[str, object]) -> None:
    args = (_int(case["size1"]), _int(case["size2"]), _b(case["root1"]), _b(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args, _proof(case["proof"]))
    else:
        merkle.verify_consistency(*args, _proof(case["proof"]))


def test_proofs_the_tree_builds_verify_and_fail_when_anything_changes() -> None:
    rng = random.Random(9162)
    tree = merkle.Tree(merkle.leaf_hash(rng.randbytes(8)) for _ in range(300))
    for _ in range(200):
        size = rng.randint(1, 300)
        index = rng.randrange(size)
        proof = tree.inclusion_proof(index, size)
        merkle.verify_inclusion(index, size, tree.leaf(index), proof, tree.root(size))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), proof, tree.root(size))
        old = rng.randint(1, size)
        consistency = tree.consistency_proof(old, size)
        merkle.verify_consistency(old, size, tree.root(old), tree.root(size), consistency)
        if old < size:
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(
                    old, size, merkle.leaf_hash(b"x"), tree.root(size), consistency
                )


def test_a_rewritten_prefix_is_not_consistent_with_the_old_root() -> None:
    honest = merkle.Tree(merkle.leaf_hash(bytes([i])) for i in range(10))
    rewritten = merkle.Tree(merkle.leaf_hash(bytes([i])) for i in range(10) if i != 4)
    for i in range(9, 14):
        rewritten.append(merkle.leaf_hash(bytes([i])))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(
            10, 13, honest.root(10), rewritten.root(13), rewritten.consistency_proof(10, 13)
        )
