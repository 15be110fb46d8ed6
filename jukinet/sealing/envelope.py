"""Sealing and opening envelopes (protos/juki/v1/envelope.proto).

`seal` encrypts a protobuf message to the recipient's HPKE key and signs it
with the sender's key. The serialized header (sender, recipient, key ids,
suite, signature algorithm, RPC method, message id, time, payload type) is
HPKE's ``info``: the single-shot HPKE API of `cryptography` takes no separate
AAD, and ``info`` enters the key schedule, so decryption fails if any header
byte differs. The signature covers the header, the encapsulated key and the
ciphertext.

`Sealer.open` fails closed; its checks, in order (each a RefusedError with a
stable ErrorInfo reason; nothing is applied on any of them):

1. (1) the envelope and header parse, and name known algorithms (ENVELOPE_MALFORMED);
2. (2) the header's sender is the TLS peer (ENVELOPE_SENDER_NOT_PEER);
3. (3) the sender's signing key with that id is in its CA-signed key document
   and valid now (ENVELOPE_UNKNOWN_KEY);
4. (4) the signature verifies (ENVELOPE_TAMPERED);
5. (5) the recipient is this node (ENVELOPE_WRONG_RECIPIENT);
6. (6) the method is the RPC being served (ENVELOPE_WRONG_METHOD);
7. (7) it was sealed within the time window (ENVELOPE_OUTSIDE_TIME_WINDOW);
8. (8) this node still holds the decryption key named (ENVELOPE_UNKNOWN_KEY);
9. (9) decryption succeeds and the payload is the expected type (ENVELOPE_TAMPERED).

The replay check (message id not seen within the window) needs the node's
database and is `replay.remember`, run in the transaction that applies the
payload.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Sequence
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from google.protobuf import message as protobuf_message

from juki.v1 import envelope_pb2
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import Reason, RefusedError
from jukinet.sealing import at_rest
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import (
    ED25519,
    HYBRID_SUITE,
    ML_DSA_65,
    KeyTrustError,
    NodeKeyring,
    hybrid_public_key,
    signing_public_key,
)

M = TypeVar("M", bound=protobuf_message.Message)

SIGNATURE_CONTEXT = b"juki-net/envelope/v1"
DEFAULT_WINDOW = dt.timedelta(seconds=300)
AT_REST_METHOD = "juki.outbox"
_SUITES = {
    HYBRID_SUITE: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
_ENC_LENGTH = {HYBRID_SUITE: hpke.KEM.MLKEM768_X25519.enc_length()}
_SIGNATURES = (ED25519, ML_DSA_65)


def signed_bytes(header: bytes, encapsulated_key: bytes, ciphertext: bytes) -> bytes:
    """What the sender signs: a context label and the three parts, each length-prefixed."""
    parts = [SIGNATURE_CONTEXT, header, encapsulated_key, ciphertext]
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


class Sealer:
    """A node's sealing and opening, with its own keyring and the network's key directory."""

    def __init__(
        self,
        spiffe_id: str,
        keyring: NodeKeyring,
        directory: KeyDirectory,
        *,
        clock: Clock = SYSTEM,
    ) -> None:
        self.spiffe_id = spiffe_id
        self.clock = clock
        self._keyring = keyring
        self._directory = directory

    def seal(
        self,
        payload: protobuf_message.Message,
        *,
        recipient: str,
        method: str,
        now: dt.datetime | None = None,
    ) -> envelope_pb2.SealedEnvelope:
        """Encrypt `payload` to `recipient`'s newest key and sign it, for `method`."""
        now = now or self.clock.now()
        key = self._directory.encryption_key(recipient, now)
        if key is None:
            raise KeyTrustError("no valid encryption key published for the recipient")
        entry, signing_key = self._keyring.current_signing_key()
        header = envelope_pb2.EnvelopeHeader(
            sender=self.spiffe_id,
            recipient=recipient,
            sender_key_id=entry.key_id,
            recipient_key_id=key.key_id,
            suite=key.suite,
            signature_algorithm=entry.algorithm,  # type: ignore[arg-type]
            method=method,
            message_id=str(uuid.uuid4()),
            payload_type=payload.DESCRIPTOR.full_name,
        )
        header.sealed_at.FromDatetime(now)
        header_bytes = header.SerializeToString(deterministic=True)
        sealed = _SUITES[key.suite].encrypt(
            payload.SerializeToString(), hybrid_public_key(key.public_key), info=header_bytes
        )
        split = _ENC_LENGTH[key.suite]
        enc, ciphertext = sealed[:split], sealed[split:]
        return envelope_pb2.SealedEnvelope(
            header=header_bytes,
            encapsulated_key=enc,
            ciphertext=ciphertext,
            signature=signing_key.sign(signed_bytes(header_bytes, enc, ciphertext)),
        )

    def seal_at_rest(self, payload: protobuf_message.Message) -> bytes:
        """`payload` sealed for this node itself: its outbox, held changes (at_rest.py)."""
        return at_rest.seal(self._keyring, payload)

    def seal_all_at_rest(self, payloads: Sequence[protobuf_message.Message]) -> list[bytes]:
        """Each of `payloads` as `seal_at_rest` seals it, the keyring read once for the lot."""
        return at_rest.seal_all(self._keyring, payloads)

    def open_all_at_rest(self, items: Sequence[bytes], payload_type: type[M]) -> list[M]:
        """Each of `items` as `open_at_rest` opens it, the keyring read once for the lot."""
        if all(at_rest.is_sealed_here(sealed) for sealed in items):
            return at_rest.open_all(self._keyring, items, payload_type)
        return [self.open_at_rest(sealed, payload_type) for sealed in items]

    def open_at_rest(self, sealed: bytes, payload_type: type[M]) -> M:
        """Open what `seal_at_rest` sealed (no time window: it may wait long).

        Data sealed by earlier versions, as an envelope to this node itself, still opens.
        """
        if at_rest.is_sealed_here(sealed):
            return at_rest.open_sealed(self._keyring, sealed, payload_type)
        envelope = envelope_pb2.SealedEnvelope.FromString(sealed)
        return self.open(
            envelope, payload_type, peer=self.spiffe_id, method=AT_REST_METHOD, window=None
        )[1]

    def open(
        self,
        envelope: envelope_pb2.SealedEnvelope,
        payload_type: type[M],
        *,
        peer: str,
        method: str,
        window: dt.timedelta | None = DEFAULT_WINDOW,
        now: dt.datetime | None = None,
    ) -> tuple[envelope_pb2.EnvelopeHeader, M]:
        """Verify and decrypt; (1)-(9) of the module docstring. `window=None`: no time check."""
        now = now or self.clock.now()
        # (1): well-formed, known algorithms
        try:
            header = envelope_pb2.EnvelopeHeader.FromString(envelope.header)
        except protobuf_message.DecodeError:
            raise RefusedError(Reason.ENVELOPE_MALFORMED, "header does not parse") from None
        if header.suite not in _SUITES or header.signature_algorithm not in _SIGNATURES:
            raise RefusedError(Reason.ENVELOPE_MALFORMED, "unknown algorithm")
        # (2): the sender is who we are talking to
        if header.sender != peer:
            raise RefusedError(Reason.ENVELOPE_SENDER_NOT_PEER)
        # (3): the sender's key is published, CA-signed and valid
        signer = self._directory.signing_key(header.sender, header.sender_key_id, now)
        if signer is None or signer.signature_algorithm != header.signature_algorithm:
            raise RefusedError(
                Reason.ENVELOPE_UNKNOWN_KEY,
                "the sender's signing key is unknown or not valid now",
            )
        # (4): the signature covers header, encapsulated key and ciphertext
        try:
            signing_public_key(signer.signature_algorithm, signer.public_key).verify(
                envelope.signature,
                signed_bytes(envelope.header, envelope.encapsulated_key, envelope.ciphertext),
            )
        except (InvalidSignature, ValueError):
            raise RefusedError(
                Reason.ENVELOPE_TAMPERED,
                "the envelope's signature does not verify",
            ) from None
        # (5), (6): for this node and this method
        if header.recipient != self.spiffe_id:
            raise RefusedError(Reason.ENVELOPE_WRONG_RECIPIENT)
        if header.method != method:
            raise RefusedError(Reason.ENVELOPE_WRONG_METHOD)
        # (7): fresh
        sealed_at = header.sealed_at.ToDatetime(dt.UTC)
        if window is not None and abs(now - sealed_at) > window:
            raise RefusedError(Reason.ENVELOPE_OUTSIDE_TIME_WINDOW)
        # (8): we still hold the key it was sealed to
        private = self._keyring.decryption_key(header.recipient_key_id)
        if private is None:
            raise RefusedError(
                Reason.ENVELOPE_UNKNOWN_KEY,
                "this node holds no decryption key with that id",
            )
        # (9): decrypts, and is what the method expects
        try:
            plaintext = _SUITES[header.suite].decrypt(
                envelope.encapsulated_key + envelope.ciphertext, private, info=envelope.header
            )
            if header.payload_type != payload_type.DESCRIPTOR.full_name:
                raise ValueError("unexpected payload type")
            payload = payload_type.FromString(plaintext)
        except Exception:
            raise RefusedError(
                Reason.ENVELOPE_TAMPERED,
                "the envelope does not decrypt to the expected payload",
            ) from None
        return header, payload
