"""Offline check of a log export against its witnessed checkpoints: what was changed, and where.

Needs only the export (tlog.export) and the verifier keys of the node's log
and of its witness — no access to the node. It finds:

- ``altered``: a row whose fields do not hash to the leaf at its place;
- ``reordered``: a row that hashes to the leaf of another row's place;
- ``deleted``: a leaf with no row (rows before the first kept row are only
  counted as expired: retention removes the oldest rows and keeps their leaves);
- ``inserted``: a row with no leaf, or a second row at one place;
- ``leaves``: a gap in the leaf indexes;
- ``checkpoint``: a checkpoint that the leaves do not reproduce (the leaves
  themselves were rewritten), or whose signature does not verify.

The leaves are checked against the largest witnessed checkpoint; leaves
after it are reported as not yet witnessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from jukinet.transparency import merkle, note, tlog
from jukinet.transparency.witness import cosigners, quorum


class ExportError(Exception):
    """The file is not a log export."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong, at a leaf index where it has one."""

    kind: str
    index: int | None
    detail: str

    def __str__(self) -> str:
        where = "" if self.index is None else f" at index {self.index}"
        return f"{self.kind}{where}: {self.detail}"


@dataclass
class Report:
    """What the check found, and how far the witnessed checkpoints vouch for the log."""

    origin: str = ""
    leaves: int = 0
    rows: int = 0
    expired: int = 0
    witnessed_size: int = 0
    witnesses: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Export:
    """A log export as read: which log, its leaves, its rows and the checkpoints with it."""

    spec: tlog.LogSpec
    origin: str
    leaves: list[tuple[int, bytes]] = field(default_factory=list)
    entries: list[Mapping[str, Any]] = field(default_factory=list)
    checkpoints: list[note.SignedNote] = field(default_factory=list)


def read_export(records: Iterable[Mapping[str, Any]]) -> Export:
    """Parse an export's records (tlog.export, and {"checkpoint": note} lines after them)."""
    it = iter(records)
    header = next(it, None)
    if (
        not isinstance(header, Mapping)
        or header.get("format") != tlog.EXPORT_FORMAT
        or header.get("log") not in tlog.LOGS
    ):
        raise ExportError("not a juki-net log export")
    export = Export(tlog.LOGS[header["log"]], str(header.get("origin", "")))
    try:
        for record in it:
            if "leaf" in record:
                export.leaves.append((int(record["leaf"]), bytes.fromhex(record["hash"])))
            elif "entry" in record:
                export.entries.append(record["entry"])
            elif "checkpoint" in record:
                export.checkpoints.append(note.SignedNote.parse(record["checkpoint"]))
            else:
                raise ExportError("an export line is not a leaf, an entry or a checkpoint")
    except (KeyError, TypeError, ValueError, note.NoteError) as bad:
        raise ExportError(f"a malformed export line ({type(bad).__name__})") from None
    return export


def verify_export(
    records: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[note.SignedNote] = (),
    log_keys: Sequence[note.NoteKey] = (),
    witness_keys: Iterable[note.NoteKey] = (),
    *,
    named: int | None = None,
    held_by_witness: Iterable[note.SignedNote] = (),
) -> Report:
    """Check an export's rows against its leaves, and its leaves against witnessed checkpoints.

    Without checkpoints (and keys) only the rows are checked against the
    leaves: enough to find a hand edit, not a rewrite of the leaves too.
    `log_keys` are every log key the node's key document lists: after a
    rotation, old and new, each vouching for the checkpoints it signed.
    The node's checkpoints (the export's and `checkpoints`) count with the
    cosignatures of a quorum of the `named` witnesses (default: as many as
    `witness_keys` name); `held_by_witness` are what an auditor got from a
    named witness itself: the leaves must reproduce each (the log had grown at
    least that far), but one witness's word alone vouches for nothing.
    """
    export = read_export(records)
    report = Report(origin=export.origin, leaves=len(export.leaves), rows=len(export.entries))
    tree = _check_leaves(export.leaves, report)
    _check_rows(export.spec, tree, export.entries, report)
    if log_keys:
        keys = list(witness_keys)
        need = quorum(len({k.name for k in keys}) if named is None else named)
        notes: list[tuple[note.SignedNote, int | None]] = [
            (n, need) for n in [*export.checkpoints, *checkpoints]
        ]
        notes += [(n, None) for n in held_by_witness]
        _check_checkpoints(tree, export.origin, notes, log_keys, keys, report)
    return report


def rows_against_leaves(conn: Connection, spec: tlog.LogSpec) -> list[Finding]:
    """What a node's own database shows wrong in one log (rows against leaves only)."""
    return verify_export(tlog.export(conn, spec, spec.name)).findings


def _check_leaves(leaves: list[tuple[int, bytes]], report: Report) -> merkle.Tree:
    tree = merkle.Tree()
    for index, hashed in sorted(leaves, key=lambda leaf: leaf[0]):
        if len(hashed) != merkle.HASH_SIZE:
            report.findings.append(Finding("leaves", index, "a leaf hash is not 32 bytes"))
            break
        if index != tree.size:
            report.findings.append(Finding("leaves", tree.size, "the leaf hashes have a gap"))
            break
        tree.append(hashed)
    return tree


def _check_rows(
    spec: tlog.LogSpec, tree: merkle.Tree, entries: list[Mapping[str, Any]], report: Report
) -> None:
    seen: dict[int, Mapping[str, Any]] = {}
    mismatched: dict[int, Mapping[str, Any]] = {}
    for entry in entries:
        try:
            index = spec.place(entry)
            tlog.fields_of(spec, entry)
        except (KeyError, TypeError, ValueError):
            report.findings.append(Finding("inserted", None, "a row without the log's fields"))
            continue
        if index in seen or not 0 <= index < tree.size:
            report.findings.append(Finding("inserted", index, "a row the log has no leaf for"))
            continue
        seen[index] = entry
        if tlog.leaf_hash_of(spec, index, entry) != tree.leaf(index):
            mismatched[index] = entry
    for index, entry in mismatched.items():
        home = [
            other
            for other in mismatched
            if other != index and tlog.leaf_hash_of(spec, other, entry) == tree.leaf(other)
        ]
        if home:
            detail = f"the row belongs at index {home[0]}"
            report.findings.append(Finding("reordered", index, detail))
        else:
            detail = "the row does not match the leaf at its place"
            report.findings.append(Finding("altered", index, detail))
    first_kept = min(seen, default=tree.size)
    report.expired = first_kept
    for index in range(first_kept, tree.size):
        if index not in seen:
            report.findings.append(Finding("deleted", index, "the leaf's row is missing"))
    report.findings.sort(key=lambda f: (f.index is None, f.index or 0))


def _check_checkpoints(
    tree: merkle.Tree,
    origin: str,
    checkpoints: Iterable[tuple[note.SignedNote, int | None]],
    log_keys: Sequence[note.NoteKey],
    witness_keys: list[note.NoteKey],
    report: Report,
) -> None:
    """Each checkpoint with the number of named witnesses' cosignatures it needs to vouch for
    the log; None: a witness's own word, which the leaves must reproduce but which vouches
    for nothing by itself (one witness is not a quorum)."""
    for signed, need in checkpoints:
        try:
            checkpoint = note.Checkpoint.parse(signed.text)
            signed_by_log = any(signed.verified_by(key) is not None for key in log_keys)
            if checkpoint.origin != origin or not signed_by_log:
                raise note.NoteError("not signed by the log's key")
            by = cosigners(signed, log_keys, witness_keys)
        except note.NoteError as bad:
            report.findings.append(Finding("checkpoint", None, str(bad)))
            continue
        if len(by) < (need or 1):
            continue  # not witnessed by a quorum of its named witnesses: vouches for nothing
        if checkpoint.size > tree.size or tree.root(checkpoint.size) != checkpoint.root:
            detail = f"the first {checkpoint.size} leaves do not reproduce the witnessed root"
            report.findings.append(Finding("checkpoint", None, detail))
            continue
        if need is not None and checkpoint.size >= report.witnessed_size:
            report.witnessed_size = checkpoint.size
            report.witnesses |= by
