"""The key directory: every node's CA-signed key document, read from files and kept fresh.

Split from keys.py (a node's own private keys): this is the public side every
node reads — the newest encryption key to seal to, the signing key an
envelope names, and the log keys that sign checkpoints and cosignatures.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from juki.v1 import envelope_pb2
from jukinet.sealing.keys import KeyTrustError, load_bundle, log_key_name, verify_document
from jukinet.transparency import note


def note_keys_of(
    doc: envelope_pb2.KeyDocument, kind: int = note.ED25519_TYPE
) -> list[note.NoteKey]:
    """The log keys a key document lists, as note verifier keys of `kind` (0x01 or 0x04).

    Validity windows are not applied: a checkpoint signed while the key was
    listed stays verifiable as long as the document lists the key.
    """
    name = log_key_name(doc.spiffe_id)
    return [
        note.NoteKey(name, kind, k.public_key)
        for k in doc.keys
        if k.use == envelope_pb2.KEY_USE_LOG
    ]


class KeyDirectory:
    """Every node's verified public keys, re-read when the directory changes."""

    def __init__(self, directory: Path, trust_bundle: Path) -> None:
        self._directory = directory
        self._bundle = trust_bundle
        self._stamp: tuple[tuple[str, float], ...] = ()
        self._docs: dict[str, envelope_pb2.KeyDocument] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        files = sorted(self._directory.glob("*.keydoc"))
        stamp = (
            *((f.name, f.stat().st_mtime) for f in files),
            ("bundle", self._bundle.stat().st_mtime),
        )
        if stamp == self._stamp:
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
            self._docs, self._stamp = docs, stamp

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

    def signing_key(
        self, spiffe_id: str, key_id: str, now: dt.datetime
    ) -> envelope_pb2.PublicKey | None:
        """A node's valid signing key with `key_id` (what a receiver verifies with)."""
        for k in self._keys(spiffe_id, envelope_pb2.KEY_USE_SIGNING, now):
            if k.key_id == key_id:
                return k
        return None
