"""Renewing one's own certificate: a new key, a request for the same identity, the answer checked.

Shared by a node (runtime/renewal.py, at half-life in a background job) and a
client (client/renewal.py, when it opens a channel). The key is made where it
is used and never travels; the request goes to the CA's signing service over
the current, still valid certificate; key then certificate are written, each
atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jukinet.core.identity import Identity
from jukinet.trust import pki

# Sends a PEM request to the signing service; the new certificate (PEM).
Renew = Callable[[bytes], bytes]


def renew_certificate(
    current: x509.Certificate, renew: Renew, *, cert_file: Path, key_file: Path
) -> x509.Certificate:
    """A new key and certificate for `current`'s identity and names, written in place.

    ValueError if the answer is not a certificate of the same identity for the new key
    (nothing is written then).
    """
    identity = Identity.parse(pki.spiffe_id_of(current))
    dns_names, ip_addresses = pki.names_of(current)
    key = pki.new_key()
    csr = pki.request(key, identity, dns_names=dns_names, ip_addresses=ip_addresses)
    answer = renew(csr.public_bytes(serialization.Encoding.PEM))
    cert = x509.load_pem_x509_certificate(answer)
    if pki.spiffe_id_of(cert) != identity.spiffe_id or cert.public_key() != key.public_key():
        raise ValueError("the signing service answered with another certificate")
    pki.write_private_key(key_file, key)
    pki.write_atomic(cert_file, pki.pem(cert))
    return cert
