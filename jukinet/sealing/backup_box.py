"""Backups sealed to a recipient key that the node's operators do not hold.

Seed 003: data is encrypted in backups too. A backup file is sealed to the
backup custodian's HPKE key (ML-KEM-768 + X25519, the envelopes' suite): a
fresh 256-bit data key is HPKE-encrypted to the recipient with the file's
header as `info`, and the database snapshot is streamed under that key in
1 MiB AES-256-GCM chunks, each with its index and a last-chunk flag in the
nonce and the header's digest as associated data (the STREAM construction),
so a file cut short, reordered or altered does not open. Only the holder of
the recipient's private key — kept away from the node — can restore it.

File: MAGIC, header length (4 bytes), header (JSON), HPKE-sealed data key
(length-prefixed), then the chunks (each length-prefixed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jukinet.core.errors import JukiError
from jukinet.sealing.keys import hybrid_private_key, hybrid_public_key, key_bytes_of_hybrid
from jukinet.trust import pki

MAGIC = b"JUKI-NET-BACKUP/1\n"
CHUNK = 1 << 20
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PRIVATE_KIND, PUBLIC_KIND = "juki-net-backup-key/1", "juki-net-backup-recipient/1"


class BackupError(JukiError):
    """A backup or key file that cannot be used: its message says why, for people."""


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


def seal(source: BinaryIO, out: BinaryIO, header: dict[str, Any], recipient_file: Path) -> None:
    """Write `source` sealed to the recipient, under `header` (no secrets in it)."""
    recipient = _read_key(recipient_file, PUBLIC_KIND)
    public = base64.b64decode(recipient["public_key"])
    header = {**header, "recipient": fingerprint(public)}
    header_bytes = json.dumps(header, sort_keys=True).encode()
    data_key = secrets.token_bytes(32)
    wrapped = _SUITE.encrypt(data_key, hybrid_public_key(public), info=header_bytes)
    aad = hashlib.sha256(header_bytes).digest()
    aead = AESGCM(data_key)
    out.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
    out.write(struct.pack(">I", len(wrapped)) + wrapped)
    for index, (chunk, last) in enumerate(_chunks(source)):
        sealed = aead.encrypt(_nonce(index, last), chunk, aad)
        out.write(struct.pack(">I", len(sealed)) + sealed)


def _read_exact(source: BinaryIO, n: int) -> bytes:
    data = source.read(n)
    if len(data) != n:
        raise BackupError("the backup file is cut short")
    return data


def read_header(source: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The header of a backup file (and its bytes), leaving `source` after it."""
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a juki-net backup file")
    (length,) = struct.unpack(">I", _read_exact(source, 4))
    header_bytes = _read_exact(source, length)
    try:
        header: dict[str, Any] = json.loads(header_bytes)
    except ValueError:
        raise BackupError("the backup's header is not JSON") from None
    return header, header_bytes


def open_sealed(source: BinaryIO, out: BinaryIO, key_file: Path) -> dict[str, Any]:
    """Write the backup's content to `out`; its header. BackupError if it does not open."""
    header, header_bytes = read_header(source)
    seed = base64.b64decode(_read_key(key_file, PRIVATE_KIND)["seed"])
    if header.get("recipient") != fingerprint(key_bytes_of_hybrid(seed)):
        raise BackupError("the backup is sealed to another recipient key")
    (length,) = struct.unpack(">I", _read_exact(source, 4))
    try:
        data_key = _SUITE.decrypt(
            _read_exact(source, length), hybrid_private_key(seed), info=header_bytes
        )
    except Exception:
        raise BackupError("the backup's key does not open: the header was altered") from None
    aead, aad = AESGCM(data_key), hashlib.sha256(header_bytes).digest()
    index, last = 0, False
    while not last:
        raw = source.read(4)
        if len(raw) != 4:
            raise BackupError("the backup file is cut short")
        sealed = _read_exact(source, struct.unpack(">I", raw)[0])
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
    if source.read(1):
        raise BackupError("the backup file has data after its last chunk")
    return header
