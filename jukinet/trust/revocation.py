"""Certificate revocation: every call's peer certificate checked against the CAs' CRLs.

gRPC Python has no CRL option, so the authorisation interceptor calls
`RevocationList.check` with the verified peer certificate on every call. The
list is a PEM file of X.509 CRLs, one per CA of the trust bundle, signed by
that CA (`pki.build_crl`). It is distributed like the trust bundle: the
operator's `revoke` command rewrites it and every node re-reads it on its next
call (two `stat`s per call, the list's and the bundle's: `core/file_stamps.py`),
so a revocation takes effect on each node as soon as the file reaches it.

Fail closed, in this order:

1. (1) the file must exist and parse — else every call is refused
   (REVOCATION_LIST_UNAVAILABLE, UNAVAILABLE);
2. (2) the peer's issuing CA must have a CRL in it, signed by that CA — else
   REVOCATION_LIST_UNAVAILABLE;
3. (3) that CRL's nextUpdate must not have passed — a stale list refuses
   every certificate of that CA (REVOCATION_LIST_STALE, UNAVAILABLE) until a
   fresh one arrives: `juki-net up` re-signs its CRL at half its validity;
4. (4) the certificate's serial must not be listed (CERTIFICATE_REVOKED,
   UNAUTHENTICATED).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509

from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.file_stamps import FileWatch
from jukinet.trust.pki import load_crls


@dataclass(frozen=True)
class _IssuerList:
    next_update: dt.datetime
    serials: frozenset[int]


@lru_cache(maxsize=1024)
def _issuer_and_serial(pem: bytes) -> tuple[bytes, int]:
    """A peer certificate's issuer (DER) and serial number, worked out once per certificate:
    encoding the issuer's name again on every call was most of the check's cost (#18)."""
    cert = x509.load_pem_x509_certificate(pem)
    return cert.issuer.public_bytes(), cert.serial_number


class RevocationList:
    """The network's CRLs as one node sees them, re-read when the file or bundle changes."""

    def __init__(self, path: Path, trust_bundle: Path, *, clock: Clock = SYSTEM) -> None:
        self._path = path
        self._clock = clock
        self._bundle = trust_bundle
        self._lock = threading.Lock()
        self._watch = FileWatch(path, trust_bundle)
        self._lists: dict[bytes, _IssuerList] | None = None

    def _load(self) -> dict[bytes, _IssuerList]:
        cas = {
            ca.subject.public_bytes(): ca
            for ca in x509.load_pem_x509_certificates(self._bundle.read_bytes())
        }
        lists: dict[bytes, _IssuerList] = {}
        for crl in load_crls(self._path.read_bytes()):
            ca = cas.get(crl.issuer.public_bytes())
            next_update = crl.next_update_utc
            if ca is None or next_update is None or not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                continue  # only a CRL its own CA signed counts
            lists[crl.issuer.public_bytes()] = _IssuerList(
                next_update, frozenset(r.serial_number for r in crl)
            )
        return lists

    def _current(self) -> dict[bytes, _IssuerList]:
        try:
            stamp = self._watch.changed()
            if stamp is not None:
                with self._lock:
                    self._lists = self._load()
                    self._watch.seen(stamp)
        except (OSError, ValueError):
            self._lists = None
            self._watch.forget()
        if self._lists is None:  # (1)
            raise RefusedError(Reason.REVOCATION_LIST_UNAVAILABLE)
        return self._lists

    def next_update(self) -> dt.datetime | None:
        """When the soonest of the lists held is due to be replaced (None if none is held)."""
        try:
            return min((held.next_update for held in self._current().values()), default=None)
        except RefusedError:
            return None

    def is_listed(self, cert: x509.Certificate) -> bool:
        """True if `cert` is revoked by a list this node holds (False if it cannot tell)."""
        try:
            lists = self._current()
        except RefusedError:
            return False
        issuer_list = lists.get(cert.issuer.public_bytes())
        return issuer_list is not None and cert.serial_number in issuer_list.serials

    def check(self, peer_pem: bytes) -> None:
        """Raise RefusedError unless the peer certificate is known not revoked (1)-(4)."""
        lists = self._current()
        issuer, serial = _issuer_and_serial(peer_pem)
        issuer_list = lists.get(issuer)
        if issuer_list is None:  # (2)
            raise RefusedError(
                Reason.REVOCATION_LIST_UNAVAILABLE, "no revocation list for the issuing CA"
            )
        if self._clock.now() > issuer_list.next_update:  # (3)
            raise RefusedError(Reason.REVOCATION_LIST_STALE)
        if serial in issuer_list.serials:  # (4)
            raise RefusedError(Reason.CERTIFICATE_REVOKED)
