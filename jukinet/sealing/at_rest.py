"""Sealing data a node keeps for itself: outbox entries, held changes, held My Numbers.

Envelopes (envelope.py) are for another node: HPKE to its public key and a signature, so the
recipient knows who sent them. Data a node writes for its own later use needs neither half of
that, only secrecy and integrity under a key no one else holds. So it is sealed with AES-256-GCM
under a key derived (HKDF-SHA256) from the node's newest encryption key seed; the key id is
stored with it, so data sealed before a rotation opens until that key is retired (as with
envelopes). The associated data binds the key id and the payload type.

Layout: ``MAGIC | len(key_id) (1 byte) | key_id | nonce (12) | ciphertext+tag``.

Measured (bench/run.py, P1): HPKE + signature per outbox entry was the largest cost of entering
and forwarding a change; this is a few microseconds.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf import message as protobuf_message

from jukinet.core.errors import Reason, RefusedError
from jukinet.sealing.keys import NodeKeyring, PrivateKeyEntry

M = TypeVar("M", bound=protobuf_message.Message)

MAGIC = b"JR1"
_NONCE = 12
_INFO = b"juki-net/at-rest/v1"


@functools.lru_cache(maxsize=64)
def _cipher(seed: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(seed)
    return AESGCM(key)


def _associated(key_id: bytes, payload_type: str) -> bytes:
    return MAGIC + key_id + b"\0" + payload_type.encode()


def is_sealed_here(data: bytes) -> bool:
    """True for data in this module's layout (earlier versions sealed at rest as envelopes)."""
    return data.startswith(MAGIC)


def seal(keyring: NodeKeyring, payload: protobuf_message.Message) -> bytes:
    """`payload` encrypted and authenticated under the node's newest at-rest key."""
    return seal_all(keyring, [payload])[0]


def seal_all(keyring: NodeKeyring, payloads: Sequence[protobuf_message.Message]) -> list[bytes]:
    """Each of `payloads` sealed as `seal` does, the keyring read once for the lot (a batch of
    500 changes read it 500 times, a file `stat` each: #18)."""
    entry = keyring.current_encryption_entry()
    key_id = entry.key_id.encode()
    cipher = _cipher(entry.seed)
    prefix = MAGIC + bytes([len(key_id)]) + key_id
    sealed = []
    for payload in payloads:
        nonce = os.urandom(_NONCE)
        associated = _associated(key_id, payload.DESCRIPTOR.full_name)
        body = cipher.encrypt(nonce, payload.SerializeToString(), associated)
        sealed.append(prefix + nonce + body)
    return sealed


def open_sealed(keyring: NodeKeyring, data: bytes, payload_type: type[M]) -> M:
    """The message sealed by `seal`; RefusedError (DATA_LOSS) if it cannot be opened."""
    return open_all(keyring, [data], payload_type)[0]


def open_all(keyring: NodeKeyring, items: Sequence[bytes], payload_type: type[M]) -> list[M]:
    """Each of `items` opened as `open_sealed` does, the keyring read once for the lot."""
    entries = keyring.encryption_entries()
    return [_open(entries, data, payload_type) for data in items]


def _open(entries: Mapping[str, PrivateKeyEntry], data: bytes, payload_type: type[M]) -> M:
    if not is_sealed_here(data) or len(data) < len(MAGIC) + 1:
        raise RefusedError(Reason.AT_REST_MALFORMED)
    start = len(MAGIC) + 1
    key_id = data[start : start + data[len(MAGIC)]]
    nonce_at = start + len(key_id)
    entry = entries.get(key_id.decode(errors="replace"))
    if entry is None:
        raise RefusedError(Reason.AT_REST_KEY_RETIRED)
    if len(data) < nonce_at + _NONCE:
        raise RefusedError(Reason.AT_REST_MALFORMED)
    try:
        plaintext = _cipher(entry.seed).decrypt(
            data[nonce_at : nonce_at + _NONCE],
            data[nonce_at + _NONCE :],
            _associated(key_id, payload_type.DESCRIPTOR.full_name),
        )
        return payload_type.FromString(plaintext)
    except (InvalidTag, protobuf_message.DecodeError):
        raise RefusedError(Reason.AT_REST_TAMPERED) from None
