"""The key directory: every node's CA-signed key document, read from files and kept fresh.

Split from keys.py (a node's own private keys): this is the public side every
node reads — the newest encryption key to seal to, the signing key an
envelope names, and the log keys that sign checkpoints and cosignatures.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from juki.v1 import envelope_pb2
from jukinet.core.file_stamps import FileWatch, Stamp, settled, stamp_of
from jukinet.sealing.key_documents import load_bundle, verify_document
from jukinet.sealing.keys import KeyTrustError, log_key_name
from jukinet.transparency import note
from jukinet.trust import pki


def note_keys_of(
    doc: envelope_pb2.KeyDocument, kind: int = note.ED25519_TYPE
) -> list[note.NoteKey]:
    """The log keys a key document lists, as note verifier keys of `kind` (0x01 or 0x04), each
    with its window: a key replaced by a rotation stays listed, its window ended, so what it
    signed (and was cosigned) while valid stays verifiable and nothing signed later counts."""
    name = log_key_name(doc.spiffe_id)
    return [
        note.NoteKey(
            name,
            kind,
            k.public_key,
            k.not_before.ToDatetime(dt.UTC) if k.HasField("not_before") else None,
            k.not_after.ToDatetime(dt.UTC) if k.HasField("not_after") else None,
        )
        for k in doc.keys
        if k.use == envelope_pb2.KEY_USE_LOG
    ]


# A full look at every file at least this often, for a document overwritten in place (which
# leaves the directory's time as it was); documents are published by rename (pki.write_atomic),
# which the directory's time shows at once.
RESCAN_S = 1.0


def publish(directory: Path, name: str, signed: envelope_pb2.SignedKeyDocument) -> Path:
    """Write a signed key document into the key directory (by rename: its time moves)."""
    path = directory / f"{name}.keydoc"
    pki.write_atomic(path, signed.SerializeToString())
    return path


class KeyDirectory:
    """Every node's verified public keys, re-read when the directory changes.

    Sealing and opening ask for keys on every call; a look at every document of the network
    (one per node: thousands) on each was most of a narrow-link call's key lookup (#18), so a
    call only stats the directory and the trust bundle, and the documents are looked at again
    when either has changed, while a change is too recent to be sure of (core/file_stamps.py),
    or after RESCAN_S.
    """

    def __init__(self, directory: Path, trust_bundle: Path) -> None:
        self._directory = directory
        self._bundle = trust_bundle
        # The documents' names and stamps when last read (None: read them at the next look).
        self._read: tuple[tuple[str, ...], Stamp] | None = None
        self._docs: dict[str, envelope_pb2.KeyDocument] = {}
        self._lock = threading.Lock()
        self._outline = FileWatch(directory, trust_bundle)  # stands for the documents
        self._looked_at = 0.0  # time.monotonic() of the last full look

    def _refresh(self) -> None:
        try:
            outline = self._outline.changed()
            unchanged = outline is None
        except OSError:  # no directory or bundle: look (the look says what is missing)
            outline, unchanged = None, False
        if unchanged and time.monotonic() - self._looked_at < RESCAN_S:
            return
        self._look()
        if outline is not None:
            self._outline.seen(outline)
        self._looked_at = time.monotonic()

    def _look(self) -> None:
        files = sorted(self._directory.glob("*.keydoc"))
        read = tuple(f.name for f in files), stamp_of(*files, self._bundle)
        if read == self._read:
            return
        with self._lock:
            cas = load_bundle(self._bundle)
            docs: dict[str, envelope_pb2.KeyDocument] = {}
            for f in files:
                signed = envelope_pb2.SignedKeyDocument.FromString(f.read_bytes())
                try:
                    doc = verify_document(signed, cas)
                except KeyTrustError:
                    continue  # an untrusted document is ignored, never used
                docs[doc.spiffe_id] = doc
            self._docs = docs
            self._read = read if settled(read[1]) else None

    def _keys(self, spiffe_id: str, use: int, now: dt.datetime) -> list[envelope_pb2.PublicKey]:
        self._refresh()
        doc = self._docs.get(spiffe_id)
        if doc is None:
            return []
        return [
            k
            for k in doc.keys
            if k.use == use
            and k.not_before.ToDatetime(dt.UTC) <= now <= k.not_after.ToDatetime(dt.UTC)
        ]

    def encryption_key(self, spiffe_id: str, now: dt.datetime) -> envelope_pb2.PublicKey | None:
        """The newest valid encryption key of a node (what a sender seals to)."""
        keys = self._keys(spiffe_id, envelope_pb2.KEY_USE_ENCRYPTION, now)
        return max(keys, key=lambda k: k.not_before.ToDatetime(dt.UTC)) if keys else None

    def spiffe_ids(self) -> list[str]:
        """Every node with a trusted key document."""
        self._refresh()
        return sorted(self._docs)

    def note_keys(self, spiffe_id: str, kind: int = note.ED25519_TYPE) -> list[note.NoteKey]:
        """Every log key a node's document lists, as note verifier keys of `kind`."""
        self._refresh()
        doc = self._docs.get(spiffe_id)
        return [] if doc is None else note_keys_of(doc, kind)

    def witnesses(self, spiffe_id: str) -> list[str]:
        """The witnesses of a node's logs as its CA-signed document names them (none if the
        node has no trusted document, or an old one that names none)."""
        self._refresh()
        doc = self._docs.get(spiffe_id)
        return [] if doc is None else list(doc.witnesses)

    def signing_key(
        self, spiffe_id: str, key_id: str, now: dt.datetime
    ) -> envelope_pb2.PublicKey | None:
        """A node's valid signing key with `key_id` (what a receiver verifies with)."""
        for k in self._keys(spiffe_id, envelope_pb2.KEY_USE_SIGNING, now):
            if k.key_id == key_id:
                return k
        return None
