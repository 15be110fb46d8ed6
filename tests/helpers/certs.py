"""Deliberately good and bad client certificates for negative tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from jukinet.core import clock
from jukinet.core.config import Credentials
from jukinet.core.identity import Identity
from jukinet.dev.localnet import LocalNetwork
from jukinet.trust import pki


def network_issuer(net: LocalNetwork) -> pki.Issuer:
    """The local network's own CA."""
    return pki.Issuer.load(net.pki_dir / "ca.crt", net.pki_dir / "ca.key")


def credentials_for(
    net: LocalNetwork,
    out: Path,
    stem: str,
    spiffe_id: str,
    *,
    issuer: pki.Issuer | None = None,
    not_before: dt.datetime | None = None,
    lifetime: dt.timedelta = pki.CLIENT_LIFETIME,
) -> Credentials:
    """Client credentials for `spiffe_id`, issued by `issuer` (the network CA by default)."""
    cert, key = pki.issue(
        issuer or network_issuer(net),
        Identity.parse(spiffe_id),
        not_before=not_before,
        lifetime=lifetime,
    )
    cert_path, key_path = pki.write_pair(out, stem, cert, key)
    return Credentials(cert_file=cert_path, key_file=key_path, trust_bundle=net.bundle)


def credentials_without_spiffe_id(net: LocalNetwork, out: Path) -> Credentials:
    """A certificate from the network CA naming only a DNS name, no URI SAN."""
    issuer = network_issuer(net)
    key = pki.new_key()
    start = clock.SYSTEM.now() - pki.BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no-spiffe")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("client.example")]), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )
    cert_path, key_path = pki.write_pair(out, "no-spiffe", cert, key)
    return Credentials(cert_file=cert_path, key_file=key_path, trust_bundle=net.bundle)
