"""Proofs that a list of log rows is the log's: what a disclosure hands the person.

For each row, the bundle carries its leaf index, its fields and an RFC 9162
inclusion proof to one witnessed checkpoint; the checkpoint itself (signed
by the node's log key, cosigned by its witness) comes with it. Anyone given
the bundle checks it offline (`juki-net audit verify-disclosure`): each row
hashes to a leaf that is in the tree the witness saw, so the node cannot
show the person a list it later rewrites, nor rows the log never held. A row
newer than the checkpoint is listed as not yet provable.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jukinet.transparency import merkle, note, tlog
from jukinet.transparency.checkpoints import MerkleLog, StoredCheckpoint
from jukinet.transparency.witness import cosigners, quorum

BUNDLE_FORMAT = "juki-net-inclusion-proofs/1"


class BundleError(Exception):
    """Not a proof bundle, or one whose checkpoint does not verify."""


def bundle(
    merkle_log: MerkleLog, checkpoint: StoredCheckpoint | None, rows: Sequence[Mapping[Any, Any]]
) -> dict[str, Any]:
    """The proofs of `rows` (rows of the log, as stored) to `checkpoint`, as JSON-ready data."""
    spec, tree = merkle_log.spec, merkle_log.tree()
    listed = []
    for row in rows:
        index = spec.place(row)
        proof: list[str] = []
        if checkpoint is not None and index < checkpoint.size:
            try:
                proof = [
                    base64.b64encode(p).decode()
                    for p in tree.inclusion_proof(index, checkpoint.size)
                ]
            except merkle.ProofError:
                proof = []  # the stored log no longer reaches the checkpoint: it will not verify
        listed.append({"index": index, "entry": tlog.fields_of(spec, row), "proof": proof})
    return {
        "format": BUNDLE_FORMAT,
        "log": spec.name,
        "origin": merkle_log.origin,
        "checkpoint": "" if checkpoint is None else str(checkpoint.note),
        "rows": listed,
    }


@dataclass
class BundleCheck:
    """What a bundle proves: the checkpoint it proves against, and each row's outcome."""

    origin: str
    size: int = 0
    witnesses: set[str] = field(default_factory=set)
    quorum: int = 1
    proven: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    newer: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every row older than the checkpoint is proven, and a quorum of the log's named
        witnesses cosigned it."""
        return len(self.witnesses) >= self.quorum and not self.failed


def verify_bundle(
    data: Mapping[str, Any],
    log_keys: Iterable[note.NoteKey],
    witness_keys: Iterable[note.NoteKey],
    *,
    named: int | None = None,
) -> BundleCheck:
    """Check every row's inclusion proof against the bundle's checkpoint; BundleError if the
    bundle is malformed or its checkpoint is not signed by one of `log_keys`. The checkpoint
    needs the cosignatures of a quorum of the `named` witnesses (default: as many as
    `witness_keys` name)."""
    log_keys = list(log_keys)
    if (
        not isinstance(data, Mapping)
        or data.get("format") != BUNDLE_FORMAT
        or not isinstance(data.get("log"), str)
        or data["log"] not in tlog.LOGS
    ):
        raise BundleError("not a juki-net proof bundle")
    spec, origin = tlog.LOGS[data["log"]], str(data.get("origin", ""))
    witness_keys = list(witness_keys)
    named = len({k.name for k in witness_keys}) if named is None else named
    check = BundleCheck(origin, quorum=quorum(named))
    try:
        signed = note.SignedNote.parse(str(data["checkpoint"]))
        checkpoint = note.Checkpoint.parse(signed.text)
        if checkpoint.origin != origin or not any(signed.verified_by(k) for k in log_keys):
            raise BundleError("the checkpoint is not signed by the node's log key")
        check.witnesses = cosigners(signed, log_keys, witness_keys)
        rows = [
            (int(r["index"]), r["entry"], [base64.b64decode(p) for p in r["proof"]])
            for r in data["rows"]
        ]
    except (KeyError, TypeError, ValueError, note.NoteError) as bad:
        raise BundleError(f"a malformed proof bundle ({type(bad).__name__})") from None
    check.size = checkpoint.size
    for index, entry, proof in rows:
        if index >= checkpoint.size:
            check.newer.append(index)
            continue
        try:
            hashed = tlog.leaf_hash_of(spec, index, entry)
            merkle.verify_inclusion(index, checkpoint.size, hashed, proof, checkpoint.root)
        except (merkle.ProofError, KeyError, TypeError, ValueError, AttributeError):
            check.failed.append(index)  # an entry of the wrong shape proves nothing
        else:
            check.proven.append(index)
    return check


def witnessed_proofs(
    merkle_log: MerkleLog,
    publish: Callable[[], tuple[StoredCheckpoint, bool]],
    rows: Sequence[Mapping[Any, Any]],
) -> dict[str, Any]:
    """Proofs of `rows` to a witnessed checkpoint, publishing one first if the last does not
    cover them all (or to the last witnessed one, if the witness cannot be reached now)."""
    newest = max((merkle_log.spec.place(r) for r in rows), default=-1)
    witnessed = merkle_log.latest(witnessed=True)
    if witnessed is None or witnessed.size <= newest:
        made, ok = publish()
        if ok:
            witnessed = made
    return bundle(merkle_log, witnessed, rows)


def describe(data: Mapping[str, Any]) -> list[str]:
    """The document's lines on a bundle: the checkpoint, who cosigned it, how to check."""
    if not data["checkpoint"]:
        return ["立会人の副署があるチェックポイントがまだありません（証明は次回の開示で）。"]
    signed = note.SignedNote.parse(data["checkpoint"])
    checkpoint = note.Checkpoint.parse(signed.text)
    cosigners = [name for name, _ in signed.signatures[1:]]
    newer = sum(1 for r in data["rows"] if not r["proof"])
    root = base64.b64encode(checkpoint.root).decode()
    lines = [
        f"ログ: {checkpoint.origin}",
        f"チェックポイント: 記録数 {checkpoint.size}、ルート {root}",
        f"立会人の副署: {', '.join(cosigners) or 'なし'}",
        "確認方法: juki-net audit verify-disclosure --in <証明ファイル>",
    ]
    if newer:
        lines.append(f"チェックポイントより新しい記録 {newer} 件は次回の開示で証明されます。")
    return lines
