"""A node renewing its own certificate at half its lifetime, without stopping.

At half-life the node makes a new key on its own host, sends a PKCS#10
request for its own identity and names to the CA's signing service
(CertificateService.RenewCertificate, over its current, still valid
certificate; the service issues only for the calling identity), checks that
the answer is a certificate of the same identity for the new key, and writes
key then certificate, each atomically. The credential watcher switches to
them when they match (trust/credentials.py): the server picks them up on its
next handshake, the hop channels are rebuilt. A failed attempt is logged and
tried again at the next check; the expiry warning of runtime/node.py says
when time runs short.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from cryptography import x509

from jukinet.core.clock import Clock
from jukinet.core.errors import JukiError
from jukinet.runtime.jobs import BackgroundJob
from jukinet.trust import pki
from jukinet.trust.credentials import CredentialWatcher
from jukinet.trust.reissue import Renew, renew_certificate

log = logging.getLogger(__name__)

CHECK_S = 30.0


class CertificateRenewer(BackgroundJob):
    """Renews one node's certificate at half-life, in a thread of its own."""

    def __init__(
        self,
        watcher: CredentialWatcher,
        *,
        cert_file: Path,
        key_file: Path,
        renew: Renew,
        clock: Clock,
        check_s: float = CHECK_S,
    ) -> None:
        self._watcher = watcher
        self._cert_file = cert_file
        self._key_file = key_file
        self._renew = renew
        self._clock = clock
        self._check_s = check_s
        super().__init__("renewal")

    def renew_now(self) -> x509.Certificate:
        """A new key and certificate for the current identity and names, written in place."""
        return renew_certificate(
            self._watcher.current().certificate,
            self._renew,
            cert_file=self._cert_file,
            key_file=self._key_file,
        )

    def run(self) -> None:
        """Check now and every `check_s` (at least eight times a lifetime)."""
        while not self.stopped.is_set():
            current = self._watcher.current().certificate
            if pki.past_half_life(current, self._clock.now()):
                try:
                    cert = self.renew_now()
                    log.info("certificate renewed; valid until %s", cert.not_valid_after_utc)
                except (JukiError, OSError, ValueError) as error:
                    log.warning("certificate renewal failed (%s): %s", type(error).__name__, error)
            # Short-lived certificates are checked more often: at least eight times a lifetime.
            lifetime = current.not_valid_after_utc - current.not_valid_before_utc
            self.stopped.wait(min(self._check_s, lifetime.total_seconds() / 8))


def expiry_warning(cert: x509.Certificate, now: dt.datetime) -> str | None:
    """A warning once less than a quarter of the certificate's lifetime is left."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    left = end - now
    if left <= dt.timedelta(0):
        return "the node certificate has expired"
    if left < (end - start) / 4:
        return f"the node certificate expires in {left.total_seconds() / 3600:.1f} h; renew it"
    return None
