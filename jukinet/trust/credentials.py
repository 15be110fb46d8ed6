"""A node's TLS material as it is on disk now, re-read when renewed, never half-written.

Certificates are short-lived and renewed in place (`pki.write_pair` writes
the new key, then the new certificate, each by an atomic rename). A reader can
therefore see a new key beside the old certificate for an instant; the
watcher only switches when the key matches the certificate and keeps serving
the previous, complete material otherwise.

`current()` is cheap (three `stat` calls: `core/file_stamps.py` says when they are
trusted) so it can sit on every TLS handshake (`grpc.dynamic_ssl_server_credentials`
calls its fetcher there) and every outgoing call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jukinet.core.config import Credentials
from jukinet.core.file_stamps import FileWatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Material:
    """One consistent set of TLS material: key, certificate, trust bundle."""

    key: bytes
    cert: bytes
    bundle: bytes
    certificate: x509.Certificate

    def same_files(self, other: Material) -> bool:
        """Whether `other` was read from the same contents."""
        return (self.key, self.cert, self.bundle) == (other.key, other.cert, other.bundle)


def _matches(key_pem: bytes, cert: x509.Certificate) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki))


class CredentialWatcher:
    """Serves the newest consistent TLS material of one set of files."""

    def __init__(self, creds: Credentials) -> None:
        self._paths = (creds.key_file, creds.cert_file, creds.trust_bundle)
        self._lock = threading.Lock()
        self._watch = FileWatch(*self._paths)
        stamp = self._watch.changed()
        material = self._load()
        if material is None:
            raise ValueError("the private key does not match the certificate")
        self._current = material
        if stamp is not None:
            self._watch.seen(stamp)

    def _load(self) -> Material | None:
        key, cert, bundle = (p.read_bytes() for p in self._paths)
        certificate = x509.load_pem_x509_certificate(cert)
        if not _matches(key, certificate):
            return None
        return Material(key, cert, bundle, certificate)

    def current(self) -> Material:
        """The newest consistent material (re-read only when a file may have changed)."""
        try:
            stamp = self._watch.changed()
            if stamp is None:
                return self._current
            with self._lock:
                material = self._load()
                if material is not None:  # else half renewed: read again on the next call
                    if not material.same_files(self._current):
                        self._current = material
                        log.info("TLS credentials reloaded")
                    self._watch.seen(stamp)
        except (OSError, ValueError):
            log.warning("TLS credentials unreadable; keeping the previous ones")
        return self._current


def server_credentials(watcher: CredentialWatcher) -> grpc.ServerCredentials:
    """Server credentials that pick up renewed certificates and bundles on the next handshake."""

    def configuration(m: Material) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(m.key, m.cert)], root_certificates=m.bundle
        )

    served = [watcher.current()]

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC on every new handshake: must be fast and must not raise.
        material = watcher.current()
        if material is served[0]:
            return None
        served[0] = material
        return configuration(material)

    # grpc's stubs say the fetcher returns a configuration; gRPC documents None as "no change".
    return grpc.dynamic_ssl_server_credentials(
        configuration(served[0]),
        fetch,  # type: ignore[arg-type]
        require_client_authentication=True,
    )


class ReloadingChannel:
    """A channel that is rebuilt when the caller's own credentials or trust bundle change.

    In-flight calls on the previous channel are not cancelled: it is closed
    only after `drain_s`, longer than any call's deadline.
    """

    def __init__(
        self,
        watcher: CredentialWatcher,
        build: Callable[[Material], grpc.Channel],
        *,
        drain_s: float = 30.0,
    ) -> None:
        self._watcher = watcher
        self._build = build
        self._drain_s = drain_s
        self._lock = threading.Lock()
        self._material = watcher.current()
        self._channel = build(self._material)

    def get(self) -> grpc.Channel:
        """The channel built from the current credentials."""
        material = self._watcher.current()
        if material is self._material:
            return self._channel
        with self._lock:
            if material is not self._material:
                old = self._channel
                self._channel, self._material = self._build(material), material
                timer = threading.Timer(self._drain_s, old.close)
                timer.daemon = True
                timer.start()
        return self._channel

    def close(self) -> None:
        """Close the current channel."""
        self._channel.close()
