"""Key documents: a node's public keys (and the witnesses of its logs) bound to its SPIFFE ID
by the network CA's signature, and checked against the trust bundle wherever they are read."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from juki.v1 import envelope_pb2
from jukinet.sealing.keys import KeyTrustError
from jukinet.trust import pki
from jukinet.trust.pki import fingerprint
from jukinet.trust.witnesses import witness_ids_of


def sign_document(
    document: envelope_pb2.KeyDocument, issuer: pki.Issuer
) -> envelope_pb2.SignedKeyDocument:
    """The CA's signature over a key document, naming the node's witnesses by the CA's rule
    (trust/witnesses.py), not as the request would have them."""
    named = envelope_pb2.KeyDocument()
    named.CopyFrom(document)
    del named.witnesses[:]
    named.witnesses.extend(witness_ids_of(document.spiffe_id, document.witnesses))
    body = named.SerializeToString(deterministic=True)
    return envelope_pb2.SignedKeyDocument(
        document=body,
        ca_signature=issuer.key.sign(body, ec.ECDSA(hashes.SHA256())),
        ca_fingerprint=fingerprint(issuer.certificate),
    )


def verify_document(
    signed: envelope_pb2.SignedKeyDocument, cas: Iterable[x509.Certificate]
) -> envelope_pb2.KeyDocument:
    """The document, if a CA of the bundle signed it; KeyTrustError otherwise."""
    for ca in cas:
        if fingerprint(ca) != signed.ca_fingerprint:
            continue
        public = ca.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise KeyTrustError("CA key is not ECDSA")
        try:
            public.verify(signed.ca_signature, signed.document, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise KeyTrustError("key document signature does not verify") from None
        return envelope_pb2.KeyDocument.FromString(signed.document)
    raise KeyTrustError("key document signed by a CA outside the trust bundle")


def load_bundle(path: Path) -> list[x509.Certificate]:
    """Every CA certificate of a PEM trust bundle."""
    return x509.load_pem_x509_certificates(path.read_bytes())
