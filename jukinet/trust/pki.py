"""Development PKI: a network CA and the certificates it issues, with `cryptography`.

Every certificate names its holder by one URI SAN, a SPIFFE ID (see
identity.py). Node certificates also carry the DNS/IP names they serve on,
and both serverAuth and clientAuth EKUs, because every node is a server to
some peers and a client of others. Keys are ECDSA P-256, which gRPC's TLS
stack, grpcurl and every browser-era tool accept.

Private keys are written 0600 through a temporary file and a rename, so a
reader never sees a half-written key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.identity import Identity

NODE_LIFETIME = dt.timedelta(hours=24)
CLIENT_LIFETIME = dt.timedelta(hours=24)
CA_LIFETIME = dt.timedelta(days=365)
# Clocks on the network disagree a little; certificates start slightly in the past: five
# minutes, or a tenth of a short lifetime (so that half of it is still ahead when issued).
BACKDATE = dt.timedelta(minutes=5)


def backdate(lifetime: dt.timedelta) -> dt.timedelta:
    """How far before now a certificate or CRL of `lifetime` starts."""
    return min(BACKDATE, lifetime / 10)


@dataclass(frozen=True)
class Issuer:
    """A CA certificate with its private key, able to sign certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> Issuer:
        """Read a CA certificate and key written by `create_ca`."""
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("CA key is not an EC key")
        return cls(load_certificate(cert_path), key)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs only; an end entity signs handshakes only."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    common_name: str, *, lifetime: dt.timedelta = CA_LIFETIME, clock: Clock = SYSTEM
) -> Issuer:
    """A self-signed CA that may sign end-entity certificates only."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = clock.now() - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(cert, key)


def request(
    key: ec.EllipticCurvePrivateKey,
    identity: Identity,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for `identity` (and the names it asks for), signed by `key`.

    The private key never leaves the requester's machine: the CA signs the
    request (ca/signing.py `Signer.sign`) and sends back only the certificate.
    """
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.spiffe_id)]
    sans += [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.spiffe_id)]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_request(data: bytes) -> x509.CertificateSigningRequest:
    """A PEM PKCS#10 request whose signature verifies; ValueError otherwise."""
    csr = x509.load_pem_x509_csr(data)
    if not csr.is_signature_valid:
        raise ValueError("the request's signature does not verify")
    return csr


def requested_names(csr: x509.CertificateSigningRequest) -> tuple[str, list[str], list[str]]:
    """(SPIFFE ID, DNS names, IP addresses) a request asks for; ValueError unless one URI."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ValueError("the request names no SPIFFE ID") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise ValueError("the request must name exactly one SPIFFE ID")
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return uris[0], list(san.get_values_for_type(x509.DNSName)), ips


def certify(
    issuer: Issuer,
    identity: Identity,
    public_key: ec.EllipticCurvePublicKey,
    *,
    lifetime: dt.timedelta = NODE_LIFETIME,
    not_before: dt.datetime | None = None,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    clock: Clock = SYSTEM,
) -> x509.Certificate:
    """An end-entity certificate binding `public_key` to `identity`, signed by `issuer`.

    The SPIFFE ID is the only URI SAN (gRPC exposes it as peer_spiffe_id only
    then). `dns_names`/`ip_addresses` are added for servers' hostname checks.
    """
    start = not_before or (clock.now() - backdate(lifetime))
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.spiffe_id)]
    sans += [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.spiffe_id)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )


def issue(
    issuer: Issuer,
    identity: Identity,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    lifetime: dt.timedelta = NODE_LIFETIME,
    not_before: dt.datetime | None = None,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    clock: Clock = SYSTEM,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new key (unless given) and its certificate for `identity` (`certify`)."""
    key = key or new_key()
    cert = certify(
        issuer,
        identity,
        key.public_key(),
        lifetime=lifetime,
        not_before=not_before,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        clock=clock,
    )
    return cert, key


CRL_LIFETIME = dt.timedelta(hours=24)


def build_crl(
    issuer: Issuer,
    serials: Iterable[int],
    *,
    lifetime: dt.timedelta = CRL_LIFETIME,
    clock: Clock = SYSTEM,
) -> x509.CertificateRevocationList:
    """A CRL of `issuer` listing `serials`, valid for `lifetime` (its nextUpdate).

    Its CRL number (RFC 5280 5.2.3) is its issue time in microseconds: every CRL the CA signs
    has a higher one than the last, so a receiver can refuse one older than it holds
    (trust/distribution.py). The CA's clock must not go back.
    """
    now = clock.now()
    start = now - backdate(lifetime)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(start)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1_000_000)), critical=False)
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(start).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def write_crls(path: Path, crls: Iterable[x509.CertificateRevocationList]) -> None:
    """Write CRLs (one per CA) as one PEM file, atomically."""
    write_atomic(path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls))


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)


def load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL of a PEM file holding several."""
    return [x509.load_pem_x509_crl(block) for block in _PEM_CRL.findall(data)]


def pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM bytes."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A private key as unencrypted PKCS#8 PEM (protected by file mode 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to `path` via a temporary file and a rename, with `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed or the file pre-existed
    os.replace(tmp, path)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write a private key readable by its owner only (0600)."""
    write_atomic(path, key_pem(key), mode=0o600)


def write_pair(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    """Write `<stem>.key` (0600) then `<stem>.crt`; returns (cert path, key path)."""
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    write_private_key(key_path, key)
    write_atomic(cert_path, pem(cert))
    return cert_path, key_path


def write_bundle(path: Path, cas: Iterable[x509.Certificate]) -> None:
    """Write a trust bundle: the CA certificates a node accepts, concatenated."""
    write_atomic(path, b"".join(pem(c) for c in cas))


def load_certificate(path: Path) -> x509.Certificate:
    """Read one PEM certificate."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses a certificate carries (to renew it with the same)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (
        list(san.get_values_for_type(x509.DNSName)),
        [str(a) for a in san.get_values_for_type(x509.IPAddress)],
    )


def past_half_life(cert: x509.Certificate, now: dt.datetime) -> bool:
    """True once half of the certificate's lifetime has passed (time to renew it)."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return now >= start + (end - start) / 2


def crl_past_half_life(crl: x509.CertificateRevocationList, now: dt.datetime) -> bool:
    """True once half of the CRL's validity has passed (time to re-sign it)."""
    next_update = crl.next_update_utc or now
    return now >= crl.last_update_utc + (next_update - crl.last_update_utc) / 2


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 hex of a certificate's DER encoding."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def is_ca(cert: x509.Certificate) -> bool:
    """True for a CA certificate."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def issuing_ca(cert: x509.Certificate, cas: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The CA among `cas` that signed `cert`, if any."""
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    return None


def spiffe_id_of(cert: x509.Certificate) -> str:
    """The single URI SAN of a certificate; ValueError if there is not exactly one."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise ValueError("certificate must carry exactly one URI SAN")
    return uris[0]
