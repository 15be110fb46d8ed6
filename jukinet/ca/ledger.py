"""The CA's ledger of every certificate it issued: what revoking an identity revokes.

Revoking one certificate by its serial does not evict whoever stole a node's key: the thief
renews with the stolen certificate and holds a new serial the operator never saw. So every
certificate the CA signs — issued by its operator, signed from a request, renewed by the
signing service — is a line of ``issued.jsonl`` in the CA folder (identity, serial, issuing CA,
expiry, and for a renewal the serial of the certificate that asked), and `pki revoke
--identity` revokes every one of an identity's certificates not yet expired, then refuses its
renewals until the operator signs a new request (ca/signing.py `Signer.evict`).

One JSON object per line, appended and flushed to disk before the certificate is handed out:
a certificate the ledger does not know is never issued. A line that does not parse is a
damaged ledger, refused as a whole (PkiError): revoking "every certificate" from a ledger
that lost some is not what it says.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509

from jukinet.core.errors import JukiError
from jukinet.trust import pki


class LedgerError(JukiError):
    """The ledger cannot be read as written: a damaged line."""


@dataclass(frozen=True)
class Issued:
    """One certificate the CA signed."""

    spiffe_id: str
    serial: int
    issuer: str  # the issuing CA's fingerprint (as revoked.json keys them)
    not_after: str  # ISO 8601, UTC
    parent: int | None = None  # for a renewal: the serial of the certificate that asked


def _issued(data: object) -> Issued:
    """One ledger line as written by `IssuedLedger.record`; TypeError or ValueError if not."""
    entry = Issued(**data)  # type: ignore[arg-type]  # TypeError: not an object of these keys
    integers = (entry.serial, *(() if entry.parent is None else (entry.parent,)))
    texts = (entry.spiffe_id, entry.issuer, entry.not_after)
    if not all(type(n) is int for n in integers) or not all(type(t) is str for t in texts):
        raise TypeError("a ledger field of the wrong type")
    if dt.datetime.fromisoformat(entry.not_after).tzinfo is None:
        raise ValueError("a ledger expiry without its time zone")
    return entry


class IssuedLedger:
    """``issued.jsonl`` of one CA folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self, cert: x509.Certificate, issuer: x509.Certificate, parent: int | None = None
    ) -> None:
        """Append one issued certificate, durably, before it is handed out."""
        entry = Issued(
            pki.spiffe_id_of(cert),
            int(cert.serial_number),
            pki.fingerprint(issuer),
            cert.not_valid_after_utc.isoformat(),
            parent,
        )
        line = json.dumps(asdict(entry), sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as ledger:
            ledger.write(line)
            ledger.flush()
            os.fsync(ledger.fileno())

    def entries(self) -> list[Issued]:
        """Every certificate issued, oldest first; LedgerError for a damaged line."""
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append(_issued(json.loads(line)))
            except (ValueError, TypeError):
                raise LedgerError(f"{self.path}: line {number} is damaged") from None
        return found

    def unexpired(self, spiffe_id: str, now: dt.datetime) -> list[Issued]:
        """The identity's certificates still valid at `now` (what revoking it must revoke)."""
        return [
            e
            for e in self.entries()
            if e.spiffe_id == spiffe_id and dt.datetime.fromisoformat(e.not_after) > now
        ]
