"""C2SP signed notes, checkpoints and cosignatures (Ed25519).

A checkpoint (c2sp.org/tlog-checkpoint) is three lines — origin, tree size,
base64 root hash — signed as a note (c2sp.org/signed-note) by the log's key;
each witness adds a cosignature line (c2sp.org/tlog-cosignature: the time it
saw the checkpoint and its signature over "cosignature/v1", that time and
the checkpoint). Anyone with the verifier keys (the `vkey` strings, printed
in the node's key document and the network description) can check one with
no access to the node. Formats follow the specs to the byte and are tested
against their published vector.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_TYPE = 0x01  # a note signature
COSIGNATURE_TYPE = 0x04  # a timestamped cosignature (tlog-cosignature v1)
_DASH = "\u2014 "
_MAX_NOTE = 1 << 16
# The largest tree a size may name: what a signed 64-bit column holds (and a proof's sizes on
# the wire); its decimal digits are counted before the number is read (tree_size).
MAX_TREE_SIZE = (1 << 63) - 1
MAX_SIZE_DIGITS = len(str(MAX_TREE_SIZE))


class NoteError(Exception):
    """A note, checkpoint or signature that is malformed or does not verify."""


def _key_id(name: str, kind: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name must be non-empty, with no spaces or '+'")


def _raw(public: ed25519.Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteKey:
    """A named Ed25519 public key of one signature type: a note signer or a cosigner; with the
    window its key document gives it (None: open), outside which what it signs counts for
    nothing (`valid_at`)."""

    name: str
    kind: int
    public: bytes
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None

    def valid_at(self, at: dt.datetime) -> bool:
        """Whether the key was in its window at `at`."""
        starts, ends = self.valid_from, self.valid_until
        return (starts is None or starts <= at) and (ends is None or at <= ends)

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID that starts each of this key's signatures."""
        return _key_id(self.name, self.kind, self.public)

    @property
    def vkey(self) -> str:
        """The verifier key string: name+hex key ID+base64(type || public key)."""
        encoded = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, vkey: str) -> NoteKey:
        """Read a verifier key string; raise NoteError if it is not a valid Ed25519 one."""
        parts = vkey.split("+", 2)  # base64 may itself hold a "+"
        if len(parts) != 3:
            raise NoteError("a verifier key has three '+'-separated parts")
        name, key_id, encoded = parts
        _check_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError as bad:
            raise NoteError("a verifier key's key is not base64") from bad
        if len(raw) != 33 or raw[0] not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise NoteError("a verifier key is not an Ed25519 note or cosignature key")
        key = cls(name, raw[0], raw[1:])
        if key.key_id.hex() != key_id.lower():
            raise NoteError("a verifier key's key ID does not match its key")
        return key

    def check(self, message: bytes, signature: bytes) -> None:
        """Raise NoteError unless `signature` is this key's over `message`."""
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature as bad:
            raise NoteError(f"the signature of {self.name} does not verify") from bad


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes (kind 0x01) or cosigns checkpoints (kind 0x04)."""

    name: str
    private: ed25519.Ed25519PrivateKey
    kind: int = ED25519_TYPE

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key(self) -> NoteKey:
        """The public half, to publish as a vkey."""
        return NoteKey(self.name, self.kind, _raw(self.private.public_key()))

    def sign(self, text: str, *, at: dt.datetime | None = None) -> str:
        """One signature line over `text` (a cosignature carries the time `at`)."""
        body = text.encode()
        if self.kind == COSIGNATURE_TYPE:
            if at is None:
                raise NoteError("a cosignature needs the time it was made")
            stamp = int(at.timestamp())
            signature = struct.pack(">Q", stamp) + self.private.sign(_cosigned_message(stamp, body))
        else:
            signature = self.private.sign(body)
        encoded = base64.b64encode(self.key.key_id + signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"


def _cosigned_message(stamp: int, body: bytes) -> bytes:
    return b"cosignature/v1\ntime %d\n" % stamp + body


@dataclass(frozen=True)
class SignedNote:
    """A note's text and its signature lines, as (key name, key ID + signature) pairs."""

    text: str
    signatures: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, note: str) -> SignedNote:
        """Split a signed note; raise NoteError if it is malformed."""
        if len(note) > _MAX_NOTE or any(c < " " and c != "\n" for c in note):
            raise NoteError("a note is too long or holds control characters")
        text, sep, block = note.rpartition("\n\n")
        if not sep or not block.endswith("\n"):
            raise NoteError("a note has no signature block")
        signatures = []
        for line in block[:-1].split("\n"):
            if not line.startswith(_DASH):
                raise NoteError("a signature line must start with an em dash")
            name, _, encoded = line[len(_DASH) :].partition(" ")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except ValueError as bad:
                raise NoteError("a signature is not base64") from bad
            if len(raw) < 5:
                raise NoteError("a signature is too short")
            signatures.append((name, raw))
        return cls(text + "\n", tuple(signatures))

    def __str__(self) -> str:
        lines = "".join(
            f"{_DASH}{name} {base64.b64encode(raw).decode()}\n" for name, raw in self.signatures
        )
        return f"{self.text}\n{lines}"

    def with_line(self, line: str) -> SignedNote:
        """This note with one more signature line (a witness's cosignature)."""
        return SignedNote.parse(str(self) + line)

    def with_cosignature(self, line: str) -> SignedNote:
        """This note with `line` in place of any earlier line by the same key name (a witness
        asked again cosigns again; a note keeps one line per witness)."""
        added = SignedNote.parse(f"{self.text}\n{line}").signatures
        kept = tuple(s for s in self.signatures if s[0] not in {name for name, _ in added})
        return SignedNote(self.text, kept + added)

    def verified_by(self, key: NoteKey) -> dt.datetime | None:
        """Check `key`'s signature; None if it has none, its time for a cosignature.

        Raises NoteError if `key` signed but the signature does not verify:
        a bad signature from a known key is a forgery, not an absence.
        """
        for name, raw in self.signatures:
            if name != key.name or raw[:4] != key.key_id:
                continue
            if key.kind == COSIGNATURE_TYPE:
                if len(raw) != 4 + 8 + 64:
                    raise NoteError(f"the cosignature of {key.name} has the wrong length")
                (stamp,) = struct.unpack(">Q", raw[4:12])
                key.check(_cosigned_message(stamp, self.text.encode()), raw[12:])
                try:
                    return dt.datetime.fromtimestamp(stamp, dt.UTC)
                except (OverflowError, OSError, ValueError):
                    raise NoteError(f"the cosignature of {key.name} has no valid time") from None
            key.check(self.text.encode(), raw[4:])
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        return None


def sign_note(text: str, signer: Signer) -> SignedNote:
    """A note of `text` (which must end in a newline) signed by `signer`."""
    if not text.endswith("\n"):
        raise NoteError("a note's text must end in a newline")
    return SignedNote.parse(f"{text}\n{signer.sign(text)}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree size and root hash under its origin name (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The checkpoint body: origin, decimal size, base64 root, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body (extension lines are not used here and are refused)."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise NoteError("a checkpoint has three lines")
        origin, size, root = lines[:3]
        try:
            raw = base64.b64decode(root, validate=True)
        except ValueError as bad:
            raise NoteError("a checkpoint's root is not base64") from bad
        if not origin or len(raw) != 32:
            raise NoteError("a checkpoint needs an origin and a 32-byte root")
        return cls(origin, tree_size(size), raw)


def tree_size(text: str) -> int:
    """A tree size written as text (a checkpoint's, a witness's `known_size`): ASCII decimal
    digits, no leading zero, at most MAX_TREE_SIZE; NoteError otherwise."""
    if not (text.isascii() and text.isdigit()) or (text != "0" and text.startswith("0")):
        raise NoteError("a tree size is not a decimal number")
    if len(text) > MAX_SIZE_DIGITS or int(text) > MAX_TREE_SIZE:
        raise NoteError("a tree size is beyond any log's")
    return int(text)


def cosigned_by(signed: SignedNote, line: str, keys: Sequence[NoteKey]) -> bool:
    """Whether `line` added to `signed` is a valid cosignature by one of `keys` (what a
    publisher checks before it records what its witness answered)."""
    try:
        cosigned = signed.with_line(line)
        return any(cosigned.verified_by(key) is not None for key in keys)
    except NoteError:
        return False
