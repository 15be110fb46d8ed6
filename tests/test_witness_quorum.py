"""The national server's two witnesses: a checkpoint counts once both cosigned (a quorum), the
publisher finds where each witness left off, and gossip between them tells one history from
two — or says it could not tell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jukinet.core.clock import Clock
from jukinet.core.errors import Reason, RefusedError
from jukinet.storage import Database, open_database
from jukinet.transparency import checkpoints, merkle, note, tlog, verify
from jukinet.transparency.gossip import Gossip, Outcome
from jukinet.transparency.publisher import Publisher
from jukinet.transparency.witness import Witness, quorum
from jukinet.trust.audit import AuditLog
from tests.helpers.witnesses import asking, witness_in

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
NATIONAL = "juki.example/national"
ORIGIN = f"{NATIONAL}/audit"


class _FixedClock(Clock):
    def now(self) -> dt.datetime:
        return NOW


def _grow(db: Database, n: int) -> None:
    audit = AuditLog(db, _FixedClock())
    for i in range(n):
        audit.append(actor="spiffe://juki.example/operator/14/a", action=f"a{i}", outcome="ok")


def test_a_majority_of_the_named_witnesses_is_the_quorum() -> None:
    assert [quorum(n) for n in (0, 1, 2, 3)] == [1, 1, 2, 2]


def test_a_checkpoint_counts_once_both_witnesses_cosigned_it(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'national.db'}")
    merkle_log = checkpoints.MerkleLog(db, tlog.AUDIT, ORIGIN)
    signer = note.Signer(NATIONAL, Ed25519PrivateKey.generate())
    w13, w14 = witness_in(tmp_path, "13"), witness_in(tmp_path, "14")
    named = [w13.cosigner.name, w14.cosigner.name]
    down = {"14": True}

    def ask14(signed: note.SignedNote, old: int, proof: Sequence[bytes]) -> str:
        if down["14"]:
            raise RefusedError(Reason.NEXT_HOP_UNAVAILABLE)
        return asking(w14, signer.key, named)(signed, old, proof)

    publisher = Publisher(
        {"audit": merkle_log},
        lambda: signer,
        [asking(w13, signer.key, named), ask14],
        _FixedClock(),
    )
    witness_keys = [w13.cosigner.key, w14.cosigner.key]

    def verified() -> verify.Report:
        with db.reading() as conn:
            records = list(tlog.export(conn, tlog.AUDIT, ORIGIN))
        return verify.verify_export(
            records, merkle_log.all_checkpoints(), [signer.key], witness_keys
        )

    _grow(db, 3)
    made, witnessed = publisher.publish("audit")
    # prefecture-14 is down: one cosignature of two is kept but vouches for nothing.
    assert (made.size, witnessed) == (3, False)
    assert len(made.note.signatures) == 2 and verified().witnessed_size == 0
    down["14"] = False
    _grow(db, 2)
    # prefecture-13 last cosigned size 3, prefecture-14 nothing: each is asked from where it is.
    made, witnessed = publisher.publish("audit")
    assert (made.size, witnessed) == (5, True)
    report = verified()
    assert (report.witnessed_size, report.findings) == (5, [])
    assert report.witnesses == {w13.cosigner.name, w14.cosigner.name}
    # Asked again at the same size, a witness cosigns again: the note keeps one line each.
    again = made.note.with_cosignature(w13.cosigner.sign(made.note.text, at=NOW))
    assert len(again.signatures) == 3


def _gossip(
    ours: Witness, peer: Witness, tree: merkle.Tree | None, log_key: note.NoteKey
) -> Gossip:
    """`ours` comparing with `peer`; the node proves from `tree` (None: it does not answer)."""

    def node_proof(origin: str, old: int, new: int) -> list[bytes]:
        if tree is None:
            raise RefusedError(Reason.NEXT_HOP_UNAVAILABLE)
        return tree.consistency_proof(old, new)

    def no_fork(origin: str) -> None:
        raise AssertionError(f"one history taken for two: {origin}")

    keys = ([log_key], [peer.cosigner.key])
    return Gossip(ours, lambda origin: keys, peer.last_cosigned, node_proof, no_fork, lambda: NOW)


def test_two_witnesses_of_one_history_agree_and_an_unanswered_round_is_undecided(
    tmp_path: Path,
) -> None:
    signer = note.Signer(NATIONAL, Ed25519PrivateKey.generate())
    w13, w14 = witness_in(tmp_path, "13"), witness_in(tmp_path, "14")
    named = [w13.cosigner.name, w14.cosigner.name]
    tree = merkle.Tree(bytes([i]) * 32 for i in range(7))

    def cosign(witness: Witness, old: int, size: int) -> None:
        text = note.Checkpoint(ORIGIN, size, tree.root(size)).text()
        proof = tree.consistency_proof(old, size) if old else []
        asking(witness, signer.key, named)(note.sign_note(text, signer), old, proof)

    cosign(w13, 0, 4)
    cosign(w14, 0, 4)
    cosign(w13, 4, 5)
    cosign(w14, 4, 7)  # prefecture-14 has seen more: only the node's proof can reconcile them
    assert _gossip(w13, w14, tree, signer.key).round() == {ORIGIN: Outcome.CONSISTENT}
    assert _gossip(w14, w13, tree, signer.key).round() == {ORIGIN: Outcome.CONSISTENT}
    # The node gives no proof: not "consistent", and no fork is claimed either.
    assert _gossip(w13, w14, None, signer.key).round() == {ORIGIN: Outcome.UNDECIDED}
    cosign(w13, 5, 6)
    assert w13.origins() == [ORIGIN]


def test_a_peer_sending_another_logs_checkpoint_or_none_decides_nothing(tmp_path: Path) -> None:
    """prefecture-13, compromised, answers gossip about national's audit log with a genuine
    checkpoint of national's provision log (another root at the same size), or with nothing:
    prefecture-14 takes neither as a fork — or as agreement."""
    signer = note.Signer(NATIONAL, Ed25519PrivateKey.generate())
    w13, w14 = witness_in(tmp_path, "13"), witness_in(tmp_path, "14")
    named = [w13.cosigner.name, w14.cosigner.name]
    for origin, leaf in ((ORIGIN, b"a"), (f"{NATIONAL}/provision", b"b")):
        text = note.Checkpoint(origin, 1, merkle.Tree([leaf * 32]).root()).text()
        for witness in (w13, w14) if origin == ORIGIN else (w13,):
            asking(witness, signer.key, named)(note.sign_note(text, signer), 0, [])
    keys = ([signer.key], [w13.cosigner.key])

    def fail(origin: str) -> None:
        raise AssertionError("a fork taken from another log's checkpoint")

    def other_log(origin: str) -> note.SignedNote | None:
        return w13.last_cosigned(f"{NATIONAL}/provision")

    for sent in (other_log, lambda origin: None):
        gossip = Gossip(w14, lambda origin: keys, sent, lambda *a: [], fail, lambda: NOW)
        assert gossip.round() == {ORIGIN: Outcome.UNDECIDED}


def test_one_witness_word_finds_a_cut_log_but_vouches_for_nothing_alone(tmp_path: Path) -> None:
    """An auditor asks one of national's witnesses how far the log had grown (`audit verify
    --witness`): a shorter export is named, but that witness's cosignature alone does not make
    the export witnessed."""
    db = open_database(f"sqlite:///{tmp_path / 'national.db'}")
    merkle_log = checkpoints.MerkleLog(db, tlog.AUDIT, ORIGIN)
    signer = note.Signer(NATIONAL, Ed25519PrivateKey.generate())
    w13, w14 = witness_in(tmp_path, "13"), witness_in(tmp_path, "14")
    named = [w13.cosigner.name, w14.cosigner.name]
    _grow(db, 4)
    made = merkle_log.checkpoint(signer, NOW)
    held = made.note.with_cosignature(asking(w13, signer.key, named)(made.note, 0, []))
    with db.reading() as conn:
        records = list(tlog.export(conn, tlog.AUDIT, ORIGIN))
    keys = [w13.cosigner.key, w14.cosigner.key]
    alone = verify.verify_export(records, (), [signer.key], keys, named=2, held_by_witness=[held])
    assert (alone.witnessed_size, alone.findings) == (0, [])

    def kept(record: dict[str, Any]) -> bool:  # the first 3 leaves and their rows (seq 1-3)
        return record.get("leaf", 0) < 3 and record.get("entry", {}).get("seq", 0) <= 3

    cut = [r for r in records if kept(r)]
    shorter = verify.verify_export(cut, (), [signer.key], keys, named=2, held_by_witness=[held])
    assert [f.detail for f in shorter.findings] == [
        "the first 4 leaves do not reproduce the witnessed root"
    ]
