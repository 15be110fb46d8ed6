"""A node's TLS credentials from the SPIFFE Workload API, where an organisation runs SPIRE.

Instead of its own key and a certificate from the network CA, a node can take
its X.509-SVID (certificate chain and key) and its trust domain's bundle
from the Workload API of the SPIRE agent on its host (config `workload_api`,
e.g. ``unix:///run/spire/agent/public/api.sock``), through py-spiffe's
client of the real protocol. The first SVID is fetched before the node
starts; later ones arrive on the Workload API's stream whenever SPIRE
rotates them. Each is written to the node's credential files (key, then
chain, then bundle; each atomically, the key 0600), which the node already
re-reads without a restart (trust/credentials.py). The SVID must name the
node's own SPIFFE ID.

py-spiffe is imported only when a node builds its SvidSource (its config names a
Workload API): its import raises a deprecation warning, which a node without SPIRE
should not log at all (core/held_logs.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from jukinet.core.config import Credentials
from jukinet.core.errors import JukiError
from jukinet.trust import pki

if TYPE_CHECKING:
    from spiffe.workloadapi.x509_context import X509Context

log = logging.getLogger(__name__)

FIRST_FETCH_TIMEOUT_S = 30.0


class SvidError(JukiError):
    """An SVID this node cannot use (another identity, or no bundle for its trust domain)."""


class SvidSource:
    """Keeps one node's credential files equal to its SVID from the Workload API."""

    def __init__(self, address: str, credentials: Credentials, spiffe_id: str) -> None:
        self._address = address
        self._credentials = credentials
        self._spiffe_id = spiffe_id
        from spiffe import WorkloadApiClient

        self._client = WorkloadApiClient(address)
        self._stream: object | None = None

    def fetch(self, timeout: float = FIRST_FETCH_TIMEOUT_S) -> None:
        """Fetch the current SVID and write it (before the node starts)."""
        self.write(self._client.fetch_x509_context(timeout=timeout))

    def write(self, context: X509Context) -> None:
        """Write an X.509 context's default SVID and its trust domain's bundle."""
        svid = context.default_svid
        if str(svid.spiffe_id) != self._spiffe_id:
            raise SvidError("the Workload API gave an SVID of another identity")
        from spiffe import TrustDomain

        bundle = context.x509_bundle_set.get_bundle_for_trust_domain(
            TrustDomain(svid.spiffe_id.trust_domain.name)
        )
        if bundle is None:
            raise SvidError("the Workload API gave no bundle for the node's trust domain")
        key = svid.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        creds = self._credentials
        pki.write_atomic(creds.key_file, key, mode=0o600)
        pki.write_atomic(creds.cert_file, b"".join(pki.pem(c) for c in svid.cert_chain))
        pki.write_atomic(creds.trust_bundle, b"".join(pki.pem(c) for c in bundle.x509_authorities))

    def _rotated(self, context: X509Context) -> None:
        try:
            self.write(context)
            leaf = context.default_svid.leaf
            log.info("X.509-SVID rotated; valid until %s", leaf.not_valid_after_utc)
        except (SvidError, OSError) as error:
            log.warning("an X.509-SVID was not taken in: %s", error)

    def start(self) -> None:
        """Follow the Workload API's stream: write each rotated SVID as it comes."""
        self._stream = self._client.stream_x509_contexts(
            on_success=self._rotated,
            on_error=lambda error: log.warning("Workload API stream: %s", type(error).__name__),
        )

    def stop(self) -> None:
        """Stop following the stream and close the client."""
        cancel = getattr(self._stream, "cancel", None)
        if cancel is not None:
            cancel()
        self._client.close()
