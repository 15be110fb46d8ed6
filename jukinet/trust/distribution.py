"""Trust material as it flows between hosts: signed by the CA, verified by every receiver.

A node refreshes its trust bundle, the CAs' CRLs and the nodes' key documents
from the node above it (runtime/trust_refresh.py). The transport is not
trusted for them: each part must carry a CA signature the receiver can check
against the bundle it already trusts, and nothing goes back in time.

`verify_bundle`, the checks in order (each a TrustMaterialError, and the
receiver keeps what it had):

1. (1) a CA of the receiver's current bundle signed the new bundle and its
   issue time (a rollover's new bundle is signed by the old CA too);
2. (2) it is not older than the bundle the receiver holds (no rollback);
3. (3) it holds at least one CA certificate, and every certificate is a CA.

`verify_crls`: (1) the file parses; (2) each CRL is signed by a CA of the
bundle being taken into use; (3) each CA of that bundle has one; (4) none is
older (a lower CRL number) than the one the receiver holds for its CA, so an
upstream node cannot serve a list from before a revocation.
Key documents are checked by sealing.key_documents.verify_document.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from juki.v1 import trust_service_pb2 as pb
from jukinet.core.errors import JukiError
from jukinet.trust.pki import Issuer, fingerprint, is_ca, load_crls

CONTEXT = b"juki-net/trust-bundle/v1"


class TrustMaterialError(JukiError):
    """Trust material that may not be taken into use; the receiver keeps what it had."""


def bundle_signed_bytes(bundle_pem: bytes, issued_at: dt.datetime) -> bytes:
    """What each CA signs: a context label, the bundle and its issue time (microseconds)."""
    stamp = int(issued_at.timestamp() * 1_000_000)
    return CONTEXT + struct.pack(">I", len(bundle_pem)) + bundle_pem + struct.pack(">q", stamp)


def sign_bundle(
    issuers: Sequence[Issuer], bundle_pem: bytes, issued_at: dt.datetime
) -> pb.SignedTrustBundle:
    """The bundle signed by each of `issuers` (every CA it holds)."""
    signed = pb.SignedTrustBundle(bundle_pem=bundle_pem)
    signed.issued_at.FromDatetime(issued_at)
    body = bundle_signed_bytes(bundle_pem, issued_at)
    for issuer in issuers:
        signed.signatures.add(
            ca_fingerprint=fingerprint(issuer.certificate),
            signature=issuer.key.sign(body, ec.ECDSA(hashes.SHA256())),
        )
    return signed


def issued_at(signed: pb.SignedTrustBundle) -> dt.datetime:
    """When a signed bundle was issued (UTC)."""
    return signed.issued_at.ToDatetime(dt.UTC)


def _verified_by(cert: x509.Certificate, signature: bytes, body: bytes) -> bool:
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return False
    try:
        public.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_bundle(
    signed: pb.SignedTrustBundle,
    trusted: Iterable[x509.Certificate],
    current: pb.SignedTrustBundle | None,
) -> list[x509.Certificate]:
    """The CA certificates of `signed` if it may replace `current`; (1)-(3) above."""
    by_fingerprint = {fingerprint(ca): ca for ca in trusted}
    body = bundle_signed_bytes(signed.bundle_pem, issued_at(signed))
    # (1): signed by a CA the receiver trusts now
    if not any(
        s.ca_fingerprint in by_fingerprint
        and _verified_by(by_fingerprint[s.ca_fingerprint], s.signature, body)
        for s in signed.signatures
    ):
        raise TrustMaterialError("the trust bundle is not signed by a CA trusted here")
    # (2): no rollback
    if current is not None and issued_at(signed) < issued_at(current):
        raise TrustMaterialError("the trust bundle is older than the one held here")
    # (3): CA certificates only
    try:
        cas = x509.load_pem_x509_certificates(signed.bundle_pem)
    except ValueError:
        raise TrustMaterialError("the trust bundle does not parse") from None
    if not cas or not all(is_ca(ca) for ca in cas):
        raise TrustMaterialError("the trust bundle holds a certificate that is not a CA")
    return list(cas)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """A CRL's number; -1 for one without (older than any numbered one)."""
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return -1


def verify_crls(
    crls_pem: bytes, cas: Iterable[x509.Certificate], held_pem: bytes = b""
) -> list[x509.CertificateRevocationList]:
    """The CRLs of `crls_pem` if each CA of `cas` has one, signed by it, none older than its
    CA's of `held_pem` (what the receiver holds); (1)-(4) above."""
    try:
        crls = load_crls(crls_pem)  # (1)
    except ValueError:
        raise TrustMaterialError("the revocation lists do not parse") from None
    by_subject = {ca.subject.public_bytes(): ca for ca in cas}
    covered = set()
    for crl in crls:  # (2)
        ca = by_subject.get(crl.issuer.public_bytes())
        public = ca.public_key() if ca is not None else None
        if not isinstance(public, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(public):
            raise TrustMaterialError("a revocation list is not signed by a CA of the bundle")
        covered.add(crl.issuer.public_bytes())
    if covered != set(by_subject):  # (3)
        raise TrustMaterialError("a CA of the bundle has no revocation list")
    try:
        held = {crl.issuer.public_bytes(): crl_number(crl) for crl in load_crls(held_pem)}
    except ValueError:
        held = {}  # what is held does not parse: nothing to compare with (it is replaced)
    for crl in crls:  # (4)
        if crl_number(crl) < held.get(crl.issuer.public_bytes(), -1):
            raise TrustMaterialError("a revocation list is older than the one held here")
    return crls
