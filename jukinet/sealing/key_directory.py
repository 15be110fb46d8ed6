"""The key directory: every node's CA-signed key document, read from files and kept fresh.

Split from keys.py (a node's own private keys): this is the public side every
node reads — the newest encryption key to seal to, the signing key an
envelope names, and the log keys that sign checkpoints and cosignatures.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
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


def _identity(path: Path) -> tuple[int, int, int]:
    """What changes when a file is replaced (a new inode) or rewritten (time, size)."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


# A full look at every file at least this often, for a document overwritten in place (which
# leaves the directory's time as it was); documents are published by rename (pki.write_atomic),
# which the directory's time shows at once.
RESCAN_S = 1.0
# File times come from a coarse clock: a directory changed this recently may change again
# without its time moving, so it is not yet trusted to stand for its files (git's "racy clean").
SETTLE_NS = 100_000_000


class KeyDirectory:
    """Every node's verified public keys, re-read when the directory changes.

    Sealing and opening ask for keys on every call; a look at every document of the network
    (one per node: thousands) on each was most of a narrow-link call's key lookup (#18), so a
    call only stats the directory and the trust bundle, and the documents are looked at again
    when either has changed, while a change is too recent to be sure of, or after RESCAN_S.
    """

    def __init__(self, directory: Path, trust_bundle: Path) -> None:
        self._directory = directory
        self._bundle = trust_bundle
        self._stamp: tuple[tuple[str, int, int, int], ...] = ()
        self._docs: dict[str, envelope_pb2.KeyDocument] = {}
        self._lock = threading.Lock()
        self._quick: tuple[int, int] | None = None  # directory and bundle times, when settled
        self._looked_at = 0.0  # time.monotonic() of the last full look

    def _refresh(self) -> None:
        try:
            quick = (os.stat(self._directory).st_mtime_ns, os.stat(self._bundle).st_mtime_ns)
        except OSError:
            quick = None
        fresh = time.monotonic() - self._looked_at < RESCAN_S
        if quick is not None and quick == self._quick and fresh:
            return
        settled = quick is not None and time.time_ns() - max(quick) > SETTLE_NS
        self._look()
        self._quick, self._looked_at = (quick if settled else None), time.monotonic()

    def _look(self) -> None:
        files = sorted(self._directory.glob("*.keydoc"))
        stamp = tuple((f.name, *_identity(f)) for f in [*files, self._bundle])
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
