"""Witnesses in-process: each with its own database and cosigning key, asked as the publisher
asks one over gRPC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jukinet.core.errors import Reason, RefusedError
from jukinet.storage import open_database
from jukinet.transparency import note
from jukinet.transparency.publisher import AskWitness, WitnessKnowsOtherSize
from jukinet.transparency.witness import Witness

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def witness_in(tmp_path: Path, code: str) -> Witness:
    """A prefecture server's witness, with its own database in `tmp_path`."""
    db = open_database(f"sqlite:///{tmp_path / f'witness-{code}.db'}")
    name = f"juki.example/prefecture/{code}"
    return Witness(db, note.Signer(name, Ed25519PrivateKey.generate(), note.COSIGNATURE_TYPE))


def asking(witness: Witness, log_key: note.NoteKey, named: list[str]) -> AskWitness:
    """The publisher's call to `witness`, as services/shared/transparency.py makes it over gRPC:
    a size mismatch says which size the witness last cosigned."""

    def ask(signed: note.SignedNote, old: int, proof: Sequence[bytes]) -> str:
        try:
            return witness.add_checkpoint(signed, [log_key], old, proof, NOW, named=named)
        except RefusedError as refused:
            if refused.reason is Reason.CHECKPOINT_SIZE_MISMATCH:
                raise WitnessKnowsOtherSize(int(refused.metadata["known_size"])) from None
            raise

    return ask
