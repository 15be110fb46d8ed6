"""Backups sealed to a recipient key that the node's operators do not hold.

Seed 003: data is encrypted in backups too. A backup file is sealed to the
backup custodian's HPKE key (ML-KEM-768 + X25519, the envelopes' suite): a
fresh 256-bit data key is HPKE-encrypted to the recipient with the file's
header as `info`, and the database snapshot is streamed under that key in
1 MiB AES-256-GCM chunks, each with its index and a last-chunk flag in the
nonce and the header's digest as associated data (the STREAM construction),
so a file cut short, reordered or altered does not open. Only the holder of
the recipient's private key — kept away from the node — can restore it.

Encryption to a public key proves nothing of who wrote the file: anyone holding
the custodian's *public* key could seal a backup of any node (approved access
grants, planted records). So the node that takes a backup also signs it, with
its current signing key (the one its CA-signed key document lists; the header
names it): the signature covers SIGNED_CONTEXT and the SHA-256 of every byte
before it. A restore verifies it with the key document before anything it
opened is used (runtime/backup.py).

File: MAGIC, header length (4 bytes), header (JSON), HPKE-sealed data key
(length-prefixed), the chunks (each length-prefixed), then the signature
(length-prefixed). Every length is checked against its bound (`MAX_*`) before
anything is read into memory, so any file is answered with its content or one
BackupError, in bounded memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jukinet.core.errors import JukiError
from jukinet.sealing.keys import hybrid_private_key, hybrid_public_key, key_bytes_of_hybrid
from jukinet.trust import pki

MAGIC = b"JUKI-NET-BACKUP/2\n"  # /1: unsigned, refused
CHUNK = 1 << 20
SIGNED_CONTEXT = b"juki-net/backup/v2\n"
MAX_HEADER = 64 << 10
MAX_WRAPPED_KEY = 4 << 10  # an ML-KEM-768 + X25519 encapsulation and a sealed 32-byte key
MAX_SEALED_CHUNK = CHUNK + 16  # a chunk and its GCM tag
MAX_SIGNATURE = 8 << 10  # ML-DSA-65: 3,309 bytes
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PRIVATE_KIND, PUBLIC_KIND = "juki-net-backup-key/1", "juki-net-backup-recipient/1"


class BackupError(JukiError):
    """A backup or key file that cannot be used: its message says why, for people."""


@dataclass(frozen=True)
class BackupSigner:
    """The node's signing key as a backup uses it: named in the header, signing the digest."""

    key_id: str
    algorithm: int  # envelope_pb2.SignatureAlgorithm
    sign: Callable[[bytes], bytes]


# Checks a backup's signature: (header, signed bytes, signature); raises BackupError if it
# does not verify with the key the header names (runtime/backup.py).
Verify = Callable[[dict[str, Any], bytes, bytes], None]


class _Digesting:
    """Reads or writes through, keeping the SHA-256 of every byte that passed."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        self.digest.update(data)
        return data

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.stream.write(data)

    def signed_bytes(self) -> bytes:
        return SIGNED_CONTEXT + self.digest.digest()


def fingerprint(public: bytes) -> str:
    """A short name of a recipient key (SHA-256 of its public bytes, 16 hex digits)."""
    return hashlib.sha256(public).hexdigest()[:16]


def make_recipient(folder: Path) -> tuple[Path, Path]:
    """A new recipient key pair: (public file for the node's host, private file, 0600, for the
    custodian)."""
    seed = os.urandom(64) + os.urandom(32)  # ML-KEM-768 seed, X25519 private key
    public = key_bytes_of_hybrid(seed)
    folder.mkdir(parents=True, exist_ok=True)
    public_file, private_file = folder / "backup-recipient.pub", folder / "backup-recipient.key"
    body = {
        "kind": PUBLIC_KIND,
        "public_key": base64.b64encode(public).decode(),
        "fingerprint": fingerprint(public),
    }
    pki.write_atomic(public_file, json.dumps(body).encode())
    secret = {"kind": PRIVATE_KIND, "seed": base64.b64encode(seed).decode()}
    pki.write_atomic(private_file, json.dumps(secret).encode(), mode=0o600)
    return public_file, private_file


def _read_key(path: Path, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as bad:
        raise BackupError(f"{path}: not readable as a backup key ({type(bad).__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise BackupError(f"{path}: not a {kind} file")
    return data


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QI", index, 1 if last else 0)


def _chunks(source: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    current = source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        yield current, not following
        if not following:
            return
        current = following


def seal(
    source: BinaryIO,
    out: BinaryIO,
    header: dict[str, Any],
    recipient_file: Path,
    signer: BackupSigner,
) -> None:
    """Write `source` sealed to the recipient and signed by `signer`, under `header` (no
    secrets in it)."""
    recipient = _read_key(recipient_file, PUBLIC_KIND)
    public = base64.b64decode(recipient["public_key"])
    header = {
        **header,
        "recipient": fingerprint(public),
        "signer_key_id": signer.key_id,
        "signature_algorithm": signer.algorithm,
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    data_key = secrets.token_bytes(32)
    wrapped = _SUITE.encrypt(data_key, hybrid_public_key(public), info=header_bytes)
    aad = hashlib.sha256(header_bytes).digest()
    aead = AESGCM(data_key)
    sink = _Digesting(out)
    sink.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
    sink.write(struct.pack(">I", len(wrapped)) + wrapped)
    for index, (chunk, last) in enumerate(_chunks(source)):
        sealed = aead.encrypt(_nonce(index, last), chunk, aad)
        sink.write(struct.pack(">I", len(sealed)) + sealed)
    signature = signer.sign(sink.signed_bytes())
    out.write(struct.pack(">I", len(signature)) + signature)


def _read_exact(source: BinaryIO | _Digesting, n: int) -> bytes:
    data = source.read(n)
    if len(data) != n:
        raise BackupError("the backup file is cut short")
    return data


def _read_sized(source: BinaryIO | _Digesting, bound: int, what: str) -> bytes:
    """A length-prefixed field, its length checked against `bound` before it is read."""
    (length,) = struct.unpack(">I", _read_exact(source, 4))
    if length > bound:
        raise BackupError(f"the backup's {what} is longer than any this version writes")
    return _read_exact(source, length)


def read_header(source: BinaryIO | _Digesting) -> tuple[dict[str, Any], bytes]:
    """The header of a backup file (and its bytes), leaving `source` after it."""
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a juki-net backup file of this version (signed backups)")
    header_bytes = _read_sized(source, MAX_HEADER, "header")
    try:
        header = json.loads(header_bytes)
    except ValueError:
        raise BackupError("the backup's header is not JSON") from None
    if not isinstance(header, dict):
        raise BackupError("the backup's header is not a JSON object")
    return header, header_bytes


def open_sealed(source: BinaryIO, out: BinaryIO, key_file: Path, verify: Verify) -> dict[str, Any]:
    """Write the backup's content to `out`; its header. BackupError if it does not open, or its
    signature does not verify (then what was written to `out` must not be used)."""
    reading = _Digesting(source)
    header, header_bytes = read_header(reading)
    seed = base64.b64decode(_read_key(key_file, PRIVATE_KIND)["seed"])
    if header.get("recipient") != fingerprint(key_bytes_of_hybrid(seed)):
        raise BackupError("the backup is sealed to another recipient key")
    wrapped = _read_sized(reading, MAX_WRAPPED_KEY, "sealed key")
    try:
        data_key = _SUITE.decrypt(wrapped, hybrid_private_key(seed), info=header_bytes)
    except Exception:
        raise BackupError("the backup's key does not open: the header was altered") from None
    aead, aad = AESGCM(data_key), hashlib.sha256(header_bytes).digest()
    index, last = 0, False
    while not last:
        sealed = _read_sized(reading, MAX_SEALED_CHUNK, "chunk")
        for flag in (False, True):
            try:
                out.write(aead.decrypt(_nonce(index, flag), sealed, aad))
                last = flag
                break
            except Exception:  # noqa: S112 - the other flag is tried; neither opening is an error
                continue
        else:
            raise BackupError(f"chunk {index} of the backup does not authenticate")
        index += 1
    signed = reading.signed_bytes()
    signature = _read_sized(source, MAX_SIGNATURE, "signature")
    if source.read(1):
        raise BackupError("the backup file has data after its signature")
    verify(header, signed, signature)
    return header
