"""Provision and audit logs as Merkle logs: checkpoints, witnessing, the offline verifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, text, update

from jukinet.core.errors import RefusedError
from jukinet.provision.log import Entry, ProvisionLog
from jukinet.storage import Database, open_database
from jukinet.storage.db import migrate
from jukinet.storage.schema import log_leaves, provision_log
from jukinet.transparency import checkpoints, note, tlog, verify
from jukinet.transparency.witness import Witness
from jukinet.trust.audit import AuditLog

NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
ORIGIN = "juki.example/prefecture/14/provision"
NAMED = ["juki.example/national"]  # the witness, as the node's key document names it


def _entry(i: int) -> Entry:
    return Entry(
        caller="spiffe://juki.example/organ/pension",
        recipient="spiffe://juki.example/organ/pension",
        operator_id=f"clerk-{i % 3}",
        task_id="pension-benefit",
        request_id=f"00000000-0000-4000-8000-{i:012d}",
        key_kind="juminhyo_code",
        key_hash=f"{i:064x}",
        outcome="provided",
        subject_hash=f"{i * 7:064x}",
        items_given="name,address",
    )


def _log(db: Database, n: int, start: int = 0) -> None:
    with db.transaction() as conn:
        ProvisionLog.write(conn, [_entry(i) for i in range(start, start + n)], NOW)


class _Node:
    """A node's provision log with its log key, and a witness with its own database."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = open_database(f"sqlite:///{tmp_path / 'node.db'}")
        self.log = checkpoints.MerkleLog(self.db, tlog.PROVISION, ORIGIN)
        self.signer = note.Signer("juki.example/prefecture/14", Ed25519PrivateKey.generate())
        witness_db = open_database(f"sqlite:///{tmp_path / 'witness.db'}")
        cosigner = note.Signer(
            "juki.example/national", Ed25519PrivateKey.generate(), note.COSIGNATURE_TYPE
        )
        self.witness = Witness(witness_db, cosigner)

    def witnessed_checkpoint(self) -> checkpoints.StoredCheckpoint:
        made = self.log.checkpoint(self.signer, NOW)
        last = self.log.latest(witnessed=True)
        old = 0 if last is None else last.size
        proof = self.log.tree().consistency_proof(old, made.size) if old else []
        line = self.witness.add_checkpoint(
            made.note, [self.signer.key], old, proof, NOW, named=[self.witness.cosigner.name]
        )
        self.log.record_cosigned(made.size, made.note.with_line(line), NOW)
        stored = self.log.latest(witnessed=True)
        assert stored is not None
        return stored

    def findings(self) -> list[str]:
        with self.db.reading() as conn:
            records = list(tlog.export(conn, tlog.PROVISION, ORIGIN))
        report = verify.verify_export(
            records, self.log.all_checkpoints(), [self.signer.key], [self.witness.cosigner.key]
        )
        return [str(f) for f in report.findings]


@pytest.fixture
def node(tmp_path: Path) -> _Node:
    return _Node(tmp_path)


def test_an_untouched_log_verifies_against_its_witnessed_checkpoints(node: _Node) -> None:
    _log(node.db, 10)
    first = node.witnessed_checkpoint()
    _log(node.db, 7, start=10)
    second = node.witnessed_checkpoint()
    assert (first.size, second.size) == (10, 17)
    assert node.findings() == []
    with node.db.reading() as conn:
        records = list(tlog.export(conn, tlog.PROVISION, ORIGIN))
    report = verify.verify_export(
        records, node.log.all_checkpoints(), [node.signer.key], [node.witness.cosigner.key]
    )
    assert (report.witnessed_size, report.witnesses) == (17, {"juki.example/national"})


def _swap_places(db: Database, a: int, b: int) -> None:
    with db.transaction() as conn:
        column = provision_log.c.leaf_index
        conn.execute(update(provision_log).where(column == a).values(leaf_index=-1))
        conn.execute(update(provision_log).where(column == b).values(leaf_index=a))
        conn.execute(update(provision_log).where(column == -1).values(leaf_index=b))


def _rewrite_leaf(db: Database, index: int) -> None:
    """An edit by someone who also recomputes the leaf hash."""
    with db.transaction() as conn:
        conn.execute(
            update(provision_log)
            .where(provision_log.c.leaf_index == index)
            .values(recipient="spiffe://juki.example/organ/tax")
        )
        row = (
            conn.execute(select(provision_log).where(provision_log.c.leaf_index == index))
            .mappings()
            .one()
        )
        conn.execute(
            update(log_leaves)
            .where(log_leaves.c.log == "provision", log_leaves.c.leaf_index == index)
            .values(leaf_hash=tlog.leaf_hash_of(tlog.PROVISION, index, row).hex())
        )


TAMPERINGS = {
    "altered": (
        lambda db: db_exec(
            db,
            update(provision_log).where(provision_log.c.leaf_index == 4).values(task_id="other"),
        ),
        ["altered at index 4: the row does not match the leaf at its place"],
    ),
    "deleted": (
        lambda db: db_exec(db, delete(provision_log).where(provision_log.c.leaf_index == 6)),
        ["deleted at index 6: the leaf's row is missing"],
    ),
    "inserted": (
        lambda db: db_exec(
            db,
            insert(provision_log).values(
                at=NOW, fiscal_year=2026, leaf_index=12, **vars(_entry(99))
            ),
        ),
        ["inserted at index 12: a row the log has no leaf for"],
    ),
    "reordered": (
        lambda db: _swap_places(db, 2, 8),
        [
            "reordered at index 2: the row belongs at index 8",
            "reordered at index 8: the row belongs at index 2",
        ],
    ),
    "leaf rewritten": (
        lambda db: _rewrite_leaf(db, 5),
        ["checkpoint: the first 12 leaves do not reproduce the witnessed root"],
    ),
}


def db_exec(db: Database, statement: object) -> None:
    with db.transaction() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


@pytest.mark.parametrize("kind", TAMPERINGS)
def test_each_kind_of_tampering_is_found_and_named(node: _Node, kind: str) -> None:
    _log(node.db, 12)
    node.witnessed_checkpoint()
    tamper, expected = TAMPERINGS[kind]
    tamper(node.db)
    assert node.findings() == expected


def test_a_log_rewritten_and_reappended_is_refused_by_its_witness(node: _Node) -> None:
    _log(node.db, 10)
    node.witnessed_checkpoint()
    # Truncate and re-append: the same number of entries and more, one of them changed.
    with node.db.transaction() as conn:
        conn.execute(delete(provision_log).where(provision_log.c.leaf_index >= 3))
        conn.execute(delete(log_leaves).where(log_leaves.c.leaf_index >= 3))
    _log(node.db, 9, start=50)
    rewritten = checkpoints.MerkleLog(node.db, tlog.PROVISION, ORIGIN)  # a restarted node
    made = rewritten.checkpoint(node.signer, NOW)
    proof = rewritten.tree().consistency_proof(10, made.size)
    with pytest.raises(RefusedError) as refused:
        node.witness.add_checkpoint(made.note, [node.signer.key], 10, proof, NOW, named=NAMED)
    assert refused.value.reason == "LOG_NOT_EXTENDED"
    cosigned = node.witness.last_cosigned(ORIGIN)
    assert cosigned is not None
    assert note.Checkpoint.parse(cosigned.text).size == 10


def test_the_witness_refuses_a_wrong_start_a_stranger_and_another_nodes_log(node: _Node) -> None:
    _log(node.db, 4)
    node.witnessed_checkpoint()
    _log(node.db, 4, start=4)
    made = node.log.checkpoint(node.signer, NOW)
    proof = node.log.tree().consistency_proof(4, 8)
    with pytest.raises(RefusedError) as wrong_start:
        node.witness.add_checkpoint(made.note, [node.signer.key], 3, proof, NOW, named=NAMED)
    assert wrong_start.value.reason == "CHECKPOINT_SIZE_MISMATCH"
    stranger = note.Signer("juki.example/prefecture/14", Ed25519PrivateKey.generate())
    with pytest.raises(RefusedError) as unsigned:
        node.witness.add_checkpoint(made.note, [stranger.key], 4, proof, NOW, named=NAMED)
    assert unsigned.value.reason == "CHECKPOINT_MALFORMED"
    other = note.Signer("juki.example/prefecture/13", Ed25519PrivateKey.generate())
    forged = note.sign_note(made.note.text, other)
    with pytest.raises(RefusedError) as not_own:
        node.witness.add_checkpoint(forged, [other.key], 0, [], NOW, named=NAMED)
    assert not_own.value.reason == "CHECKPOINT_NOT_OF_CALLER"


def test_rows_logged_before_the_merkle_logs_become_their_first_leaves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = open_database(url, run_migrations=False)
    migrate(old.engine, "0007")
    with old.engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO provision_log (at, fiscal_year, caller, recipient, operator_id,"
                    " task_id, request_id, key_kind, key_hash, subject_hash, outcome, reason,"
                    " items_given) VALUES (:at, 2026, 'c', 'r', 'o', 't', :rid, 'k', 'h', 's',"
                    " 'provided', '', 'name')"
                ),
                {"at": NOW, "rid": f"request-{i}"},
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, action, outcome, reason, prev_hash,"
                    " hash) VALUES (:seq, :at, 'a', '/m', 'ok', '', 'p', 'h')"
                ),
                {"seq": i + 1, "at": NOW},
            )
    old.dispose()
    db = open_database(url)
    AuditLog(db).append(actor="a", action="/m", outcome="ok")
    _log(db, 2)
    with db.reading() as conn:
        assert verify.rows_against_leaves(conn, tlog.PROVISION) == []
        assert verify.rows_against_leaves(conn, tlog.AUDIT) == []
        sizes = dict(conn.execute(text("SELECT log, count(*) FROM log_leaves GROUP BY log")).all())
    assert sizes == {"audit": 4, "provision": 5}


def test_a_rotated_log_key_signs_on_and_the_old_one_still_vouches_for_what_it_signed(
    node: _Node,
) -> None:
    """A log-key rotation: the key document lists old and new side by side; the witness takes
    the new key's checkpoint as extending the old one's, and a verifier holding either key
    checks what that key signed."""
    _log(node.db, 6)
    old = node.signer
    first = node.witnessed_checkpoint()
    node.signer = note.Signer(old.name, Ed25519PrivateKey.generate())
    _log(node.db, 5, start=6)
    made = node.log.checkpoint(node.signer, NOW)
    proof = node.log.tree().consistency_proof(first.size, made.size)
    line = node.witness.add_checkpoint(
        made.note, [old.key, node.signer.key], first.size, proof, NOW, named=NAMED
    )
    node.log.record_cosigned(made.size, made.note.with_line(line), NOW)
    with node.db.reading() as conn:
        records = list(tlog.export(conn, tlog.PROVISION, ORIGIN))
    witnesses = [node.witness.cosigner.key]
    checkpoints = node.log.all_checkpoints()
    both = verify.verify_export(records, checkpoints, [old.key, node.signer.key], witnesses)
    assert (both.witnessed_size, both.findings) == (11, [])
    # Holding only the old key, the new checkpoint is not the node's: said so, and the old
    # key's still vouches for its 6 leaves.
    older = verify.verify_export(records, checkpoints, [old.key], witnesses)
    assert older.witnessed_size == 6
    assert [f.detail for f in older.findings] == ["not signed by the log's key"]
