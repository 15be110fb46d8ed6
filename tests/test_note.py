"""C2SP signed notes, checkpoints and cosignatures: the specs' vectors and round trips."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from jukinet.transparency import note

# c2sp.org/signed-note, "Example".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONnc"
    "AlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# c2sp.org/tlog-cosignature, the example's witness line (time 1679315147).
SPEC_COSIGNATURE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2o"
    "yin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_the_spec_example_verifies_and_a_changed_text_does_not() -> None:
    key = note.NoteKey.parse(SPEC_VKEY)
    assert key.vkey == SPEC_VKEY
    signed = note.SignedNote.parse(SPEC_NOTE)
    assert signed.text == "This is an example message.\n"
    assert signed.verified_by(key) is not None
    assert str(signed) == SPEC_NOTE
    forged = note.SignedNote.parse(SPEC_NOTE.replace("example message", "example massage"))
    with pytest.raises(note.NoteError):
        forged.verified_by(key)


def test_the_spec_cosignature_line_carries_its_time() -> None:
    checkpoint = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    signed = note.SignedNote.parse(f"{checkpoint}\n{SPEC_COSIGNATURE}")
    name, raw = signed.signatures[0]
    assert name == "witness.example.com/w1"
    assert struct.unpack(">Q", raw[4:12]) == (1679315147,)
    assert note.Checkpoint.parse(signed.text).size == 20852163


def test_checkpoints_are_signed_and_cosigned_round_trip() -> None:
    log = note.Signer("juki.example/prefecture-14/provision", ed25519.Ed25519PrivateKey.generate())
    witness = note.Signer(
        "juki.example/national", ed25519.Ed25519PrivateKey.generate(), note.COSIGNATURE_TYPE
    )
    checkpoint = note.Checkpoint("juki.example/prefecture-14/provision", 42, bytes(range(32)))
    assert note.Checkpoint.parse(checkpoint.text()) == checkpoint
    signed = note.sign_note(checkpoint.text(), log)
    at = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
    cosigned = signed.with_line(witness.sign(signed.text, at=at))
    reread = note.SignedNote.parse(str(cosigned))
    assert reread.verified_by(note.NoteKey.parse(log.key.vkey)) is not None
    assert reread.verified_by(note.NoteKey.parse(witness.key.vkey)) == at
    other = note.Signer("juki.example/national", ed25519.Ed25519PrivateKey.generate(), 4)
    assert reread.verified_by(other.key) is None  # another key's ID: no signature of it
    lying = note.SignedNote(
        note.Checkpoint(checkpoint.origin, 43, checkpoint.root).text(), reread.signatures
    )
    with pytest.raises(note.NoteError):
        lying.verified_by(witness.key)


@pytest.mark.parametrize(
    "bad",
    [
        "no signatures\n",
        "text\n\nnot a signature line\n",
        "text\n\n— name !!notbase64\n",
        "text\x07\n\n— a AAAAAAA=\n",
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.SignedNote.parse(bad)


@pytest.mark.parametrize(
    "bad", ["origin\n12\n", "origin\n012\nAAAA\n", "origin\n1\nAAAA\n", "\n1\n" + "A" * 43 + "=\n"]
)
def test_malformed_checkpoints_are_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.Checkpoint.parse(bad)
