"""Sealing keys: each node's private keys and its CA-signed key document.

Every node has an encryption key pair (HPKE, ML-KEM-768+X25519) and a signing key pair
(Ed25519 by default, ML-DSA-65 selectable). The public halves are published in a
`KeyDocument` that the network CA signs, binding them to the node's SPIFFE ID exactly as its
TLS certificate binds its TLS key. Signed documents are files (``<node>.keydoc``) in a key
directory shipped beside the trust bundle, which every node reads (key_directory.py), so a
published rotation reaches every node without a restart.

Rotation: `rotate()` adds a new key pair of each kind; the node's document
then lists old and new side by side. Senders seal to the newest encryption
key; the receiver keeps decrypting with the old one (still in its private key
file) until the overlap ends and `retire()` removes the `superseded` ones.
A node on a host of its own rotates with an activation time in the future, so
its new document reaches every peer with the trust material before peers seal
to the new key and the node signs with it (`is_active`: from `not_before` plus
KEY_BACKDATE, the moment the key was made for).

Private keys live in one JSON file per node, mode 0600, never in a database.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem, x25519
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey, MLKEM768X25519PublicKey
from google.protobuf import timestamp_pb2

from juki.v1 import envelope_pb2
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.file_stamps import FileWatch
from jukinet.transparency import note
from jukinet.trust import pki

HYBRID_SUITE = envelope_pb2.HPKE_SUITE_MLKEM768X25519_HKDFSHA256_AES256GCM
ED25519 = envelope_pb2.SIGNATURE_ALGORITHM_ED25519
ML_DSA_65 = envelope_pb2.SIGNATURE_ALGORITHM_ML_DSA_65
KEY_LIFETIME = dt.timedelta(days=90)
# A log key signs checkpoints that must stay verifiable for the log's 7 years: a rotation ends
# its window but keeps it listed (rotate).
LOG_KEY_LIFETIME = dt.timedelta(days=3653)
# New keys count as valid from an hour before they were made, so a receiver
# whose clock lags the key's maker does not refuse a freshly published key.
KEY_BACKDATE = dt.timedelta(hours=1)
# How long a rotated log key still signs (a replica not yet reloaded; a checkpoint in flight to
# its witness) after its successor starts.
LOG_KEY_OVERLAP = dt.timedelta(hours=1)
_MLKEM768_PUBLIC_LEN = 1184

SigningPrivateKey = ed25519.Ed25519PrivateKey | mldsa.MLDSA65PrivateKey
SigningPublicKey = ed25519.Ed25519PublicKey | mldsa.MLDSA65PublicKey


class KeyTrustError(Exception):
    """A key document or key that cannot be trusted or used."""


def _stamp(when: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- private keys ------------------------------------------------------------------------
@dataclass(frozen=True)
class PrivateKeyEntry:
    """One private key of a node, with the public facts published about it."""

    key_id: str
    use: envelope_pb2.KeyUse.ValueType
    algorithm: int  # HpkeSuite for encryption, SignatureAlgorithm for signing
    seed: bytes  # ML-KEM seed + X25519 raw, or the signing key's seed/raw bytes
    not_before: dt.datetime
    not_after: dt.datetime

    def encryption_key(self) -> MLKEM768X25519PrivateKey:
        """The HPKE private key (encryption entries only)."""
        return hybrid_private_key(self.seed)

    def signing_key(self) -> SigningPrivateKey:
        """The signing private key (signing entries only)."""
        return _signing_private_key(self.algorithm, self.seed)

    def public_key(self) -> envelope_pb2.PublicKey:
        """The public half, as published in the key document."""
        public = envelope_pb2.PublicKey(
            key_id=self.key_id,
            use=self.use,
            not_before=_stamp(self.not_before),
            not_after=_stamp(self.not_after),
        )
        if self.use == envelope_pb2.KEY_USE_ENCRYPTION:
            public.suite = self.algorithm  # type: ignore[assignment]
            public.public_key = key_bytes_of_hybrid(self.seed)
        else:
            public.signature_algorithm = self.algorithm  # type: ignore[assignment]
            public.public_key = self.signing_key().public_key().public_bytes_raw()
        return public


# Expanding a seed or raw bytes into a key object (ML-KEM's especially) costs more than using
# it: one object per key, kept for the process. The seeds themselves are in memory anyway.
@functools.lru_cache(maxsize=64)
def hybrid_private_key(seed: bytes) -> MLKEM768X25519PrivateKey:
    return MLKEM768X25519PrivateKey(
        mlkem.MLKEM768PrivateKey.from_seed_bytes(seed[:64]),
        x25519.X25519PrivateKey.from_private_bytes(seed[64:]),
    )


@functools.lru_cache(maxsize=64)
def _signing_private_key(algorithm: int, seed: bytes) -> SigningPrivateKey:
    if algorithm == ML_DSA_65:
        return mldsa.MLDSA65PrivateKey.from_seed_bytes(seed)
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def key_bytes_of_hybrid(seed: bytes) -> bytes:
    """Raw public bytes of a hybrid key: ML-KEM-768 public key, then X25519 public key."""
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed[:64]).public_key().public_bytes_raw()
    dh = x25519.X25519PrivateKey.from_private_bytes(seed[64:]).public_key().public_bytes_raw()
    return kem + dh


@functools.lru_cache(maxsize=64)
def hybrid_public_key(raw: bytes) -> MLKEM768X25519PublicKey:
    """Parse the raw public bytes of a hybrid encryption key."""
    if len(raw) != _MLKEM768_PUBLIC_LEN + 32:
        raise KeyTrustError("hybrid public key has the wrong length")
    return MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_LEN]),
        x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_LEN:]),
    )


@functools.lru_cache(maxsize=64)
def signing_public_key(algorithm: int, raw: bytes) -> SigningPublicKey:
    """Parse a raw signing public key of `algorithm`."""
    if algorithm == ED25519:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if algorithm == ML_DSA_65:
        return mldsa.MLDSA65PublicKey.from_public_bytes(raw)
    raise KeyTrustError("unknown signature algorithm")


def new_entries(
    now: dt.datetime,
    *,
    signature_algorithm: int = ED25519,
    lifetime: dt.timedelta = KEY_LIFETIME,
    log_key: bool = True,
) -> list[PrivateKeyEntry]:
    """A fresh encryption key and signing key (and log key), valid from `now` less KEY_BACKDATE."""
    start = now - KEY_BACKDATE
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    kem_seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
    dh_raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
    if signature_algorithm == ML_DSA_65:
        sign_seed = mldsa.MLDSA65PrivateKey.generate().private_bytes_raw()
    else:
        sign_seed = ed25519.Ed25519PrivateKey.generate().private_bytes_raw()
    entries = [
        PrivateKeyEntry(
            f"enc-{stamp}",
            envelope_pb2.KEY_USE_ENCRYPTION,
            HYBRID_SUITE,
            kem_seed + dh_raw,
            start,
            now + lifetime,
        ),
        PrivateKeyEntry(
            f"sig-{stamp}",
            envelope_pb2.KEY_USE_SIGNING,
            signature_algorithm,
            sign_seed,
            start,
            now + lifetime,
        ),
    ]
    if log_key:
        log_seed = ed25519.Ed25519PrivateKey.generate().private_bytes_raw()
        log_entry = PrivateKeyEntry(
            f"log-{stamp}",
            envelope_pb2.KEY_USE_LOG,
            ED25519,
            log_seed,
            start,
            now + LOG_KEY_LIFETIME,
        )
        return [*entries, log_entry]
    return entries


@dataclass
class NodeKeyring:
    """A node's private sealing keys, backed by one 0600 JSON file it re-reads when changed."""

    path: Path
    entries: list[PrivateKeyEntry] = field(default_factory=list)
    clock: Clock = SYSTEM  # what decides which key is active
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watch: FileWatch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._watch = FileWatch(self.path)

    @classmethod
    def create(cls, path: Path, entries: Iterable[PrivateKeyEntry]) -> NodeKeyring:
        """Write a new key file with `entries`."""
        ring = cls(path, list(entries))
        ring.save()
        return ring

    def save(self) -> None:
        """Write the key file atomically, mode 0600."""
        data = [
            {
                "key_id": e.key_id,
                "use": int(e.use),
                "algorithm": e.algorithm,
                "seed": _b64(e.seed),
                "not_before": e.not_before.isoformat(),
                "not_after": e.not_after.isoformat(),
            }
            for e in self.entries
        ]
        pki.write_atomic(self.path, json.dumps(data, indent=1).encode(), mode=0o600)

    def refresh(self) -> None:
        """Re-read the file if it changed (a rotation by the operator's command)."""
        stamp = self._watch.changed()
        if stamp is None:
            return
        with self._lock:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = [
                PrivateKeyEntry(
                    d["key_id"],
                    d["use"],
                    d["algorithm"],
                    base64.b64decode(d["seed"]),
                    dt.datetime.fromisoformat(d["not_before"]),
                    dt.datetime.fromisoformat(d["not_after"]),
                )
                for d in raw
            ]
            self._watch.seen(stamp)

    def decryption_key(self, key_id: str) -> MLKEM768X25519PrivateKey | None:
        """The private encryption key with `key_id`, if this node still holds it."""
        entry = self.encryption_entry(key_id)
        return None if entry is None else entry.encryption_key()

    def _newest(self, use: envelope_pb2.KeyUse.ValueType, kind: str) -> PrivateKeyEntry:
        """The newest *active* key entry of `use` (the oldest if none is active yet: a node
        whose only keys wait for their time); KeyTrustError ("no `kind` key") if there is none."""
        self.refresh()
        of_use = [e for e in self.entries if e.use == use]
        if not of_use:
            raise KeyTrustError(f"no {kind} key")
        newest = newest_active(of_use, use, self.clock.now())
        return newest or min(of_use, key=lambda e: e.not_before)

    def current_encryption_entry(self) -> PrivateKeyEntry:
        """The newest encryption key entry (what data at rest is sealed under)."""
        return self._newest(envelope_pb2.KEY_USE_ENCRYPTION, "encryption")

    def encryption_entry(self, key_id: str) -> PrivateKeyEntry | None:
        """The encryption key entry with `key_id`, if this node still holds it."""
        return self.encryption_entries().get(key_id)

    def encryption_entries(self) -> dict[str, PrivateKeyEntry]:
        """Every encryption key entry this node holds, by key id."""
        self.refresh()
        return {e.key_id: e for e in self.entries if e.use == envelope_pb2.KEY_USE_ENCRYPTION}

    def current_signing_key(self) -> tuple[PrivateKeyEntry, SigningPrivateKey]:
        """The newest signing key (used for every envelope this node seals)."""
        newest = self._newest(envelope_pb2.KEY_USE_SIGNING, "signing")
        return newest, newest.signing_key()

    def log_signer(self, spiffe_id: str, kind: int = note.ED25519_TYPE) -> note.Signer:
        """The newest log key, as the signer of this node's checkpoints (or, with
        note.COSIGNATURE_TYPE, of its cosignatures as a witness)."""
        newest = self._newest(envelope_pb2.KEY_USE_LOG, "log")
        private = newest.signing_key()
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        return note.Signer(log_key_name(spiffe_id), private, kind)

    def document(
        self, spiffe_id: str, now: dt.datetime, witnesses: Iterable[str] = ()
    ) -> envelope_pb2.KeyDocument:
        """The public key document listing every key held (old and new during a rotation);
        `witnesses`: the witnesses the node asks to be named (the CA decides: key_documents)."""
        self.refresh()
        return envelope_pb2.KeyDocument(
            spiffe_id=spiffe_id,
            keys=[e.public_key() for e in self.entries],
            issued_at=_stamp(now),
            witnesses=list(witnesses),
        )


def is_active(entry: PrivateKeyEntry, now: dt.datetime) -> bool:
    """Whether the node uses `entry` by now: from the moment it was made for (its not_before
    is KEY_BACKDATE earlier, for peers whose clocks lag)."""
    return entry.not_before + KEY_BACKDATE <= now


def newest_active(
    entries: Iterable[PrivateKeyEntry], use: envelope_pb2.KeyUse.ValueType, now: dt.datetime
) -> PrivateKeyEntry | None:
    """The newest of `entries` of `use` active by `now` (None if none is)."""
    active = [e for e in entries if e.use == use and is_active(e, now)]
    return max(active, key=lambda e: e.not_before, default=None)


def rotate(ring: NodeKeyring, now: dt.datetime, active_from: dt.datetime | None = None) -> None:
    """Add a new encryption, signing and log key, used from `active_from` (default: now); the
    old encryption and signing keys stay until `retire`. An old log key stays for good, its
    window ended an overlap after the new one starts (LOG_KEY_OVERLAP): the checkpoints it
    signed stay verifiable, and whoever kept a copy of it cannot sign a later history."""
    ring.refresh()
    algorithm = ring.current_signing_key()[0].algorithm
    start = max(now, active_from or now)
    log_ends = start + LOG_KEY_OVERLAP
    ring.entries = [
        replace(e, not_after=min(e.not_after, log_ends)) if e.use == envelope_pb2.KEY_USE_LOG else e
        for e in ring.entries
    ]
    ring.entries.extend(new_entries(start, signature_algorithm=algorithm))
    ring.save()


def superseded(entries: Iterable[PrivateKeyEntry], now: dt.datetime) -> list[str]:
    """The ids of keys a newer, already active key of the same use has replaced: what a
    rotation's overlap ends with. Keys not active yet, and what they will replace, stay."""
    entries = list(entries)
    dropped = []
    for use in {e.use for e in entries} - {envelope_pb2.KEY_USE_LOG}:  # log keys stay (rotate)
        newest = newest_active(entries, use, now)
        if newest is not None:  # what came before an active key is active too, and replaced
            dropped += [
                e.key_id for e in entries if e.use == use and e.not_before < newest.not_before
            ]
    return sorted(dropped)


def retire(ring: NodeKeyring, key_ids: Iterable[str]) -> None:
    """Remove keys after the overlap window: their envelopes can no longer be opened."""
    drop = set(key_ids)
    ring.refresh()
    ring.entries = [e for e in ring.entries if e.key_id not in drop]
    ring.save()


# -- key documents ------------------------------------------------------------------------
def log_key_name(spiffe_id: str) -> str:
    """A node's name on its checkpoints and cosignatures: its SPIFFE ID without the scheme."""
    return spiffe_id.removeprefix("spiffe://")


def log_owner(origin: str) -> str:
    """The SPIFFE ID of the node whose log `origin` is (tlog.origin: its log key's name, then
    the log's name) — not necessarily a valid identity: callers parse it."""
    return "spiffe://" + origin.rsplit("/", 1)[0]
