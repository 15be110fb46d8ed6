"""An organ's signed query: the proof, carried over the narrow link, that the organ asked.

The narrow link gives an emigrant's My Number to the fuhyo server for an organ. Were the
organ's name alone enough, a compromised fuhyo server could obtain every emigrant's My Number
in some innocent organ's name, each logged as that organ's. So the organ signs its query with
the key of its client certificate (`sign`); the fuhyo server passes the signed bytes and the
certificate it saw on, unchanged; and the prefecture server accepts them (`verify`) only if the
certificate is the organ's, issued by the network's CA, in date and not revoked, the signature
verifies, the query was signed in the last five minutes for this fuhyo server, and it is this
request under this task. Whether it asks for *this* person is decided where the person's
record is read (link.emigrants_my_number, `asks_for`).

A fuhyo server replaying a signed query within its five minutes obtains only what the organ
asked for; the rate limit (link.py) bounds the rest.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message import DecodeError

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity
from jukinet.trust.pki import issuing_ca, spiffe_id_of
from jukinet.trust.revocation import RevocationList

CONTEXT = b"juki-net organ query v1\n"  # what the signature is over comes first
MAX_QUERY_BYTES = 4096
MAX_CERTIFICATE_BYTES = 8192
FRESH_FOR = dt.timedelta(minutes=5)
AHEAD_BY = dt.timedelta(minutes=1)  # an organ's clock a little ahead of this node's


def sign(
    query: pb.ResidentQuery, *, audience: str, key: ec.EllipticCurvePrivateKey, at: dt.datetime
) -> fuhyo_pb.SignedOrganQuery:
    """The organ's signature of `query` for the fuhyo server `audience`, made at `at`."""
    body = fuhyo_pb.OrganQuery(query=query, audience=audience)
    body.signed_at.FromDatetime(at)
    data = body.SerializeToString()
    signature = key.sign(CONTEXT + data, ec.ECDSA(hashes.SHA256()))
    return fuhyo_pb.SignedOrganQuery(query=data, signature=signature)


def sign_with_pem(
    query: pb.ResidentQuery, *, audience: str, key_pem: bytes, at: dt.datetime
) -> fuhyo_pb.SignedOrganQuery:
    """`sign` with the organ's client key as read from its key file (PEM)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("an organ's client key is an EC key")
    return sign(query, audience=audience, key=key, at=at)


def _organ_certificate(
    der: bytes, organ: Identity, cas: list[x509.Certificate], now: dt.datetime
) -> x509.Certificate:
    """The organ's certificate if the network's CA issued it to the organ and it is in date."""
    if not der or len(der) > MAX_CERTIFICATE_BYTES:
        raise RefusedError(Reason.ORGAN_PROOF_INVALID)
    try:
        cert = x509.load_der_x509_certificate(der)
        named = spiffe_id_of(cert)
    except (ValueError, x509.ExtensionNotFound):
        raise RefusedError(Reason.ORGAN_PROOF_INVALID) from None
    in_date = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    if named != organ.spiffe_id or not in_date or issuing_ca(cert, cas) is None:
        raise RefusedError(Reason.ORGAN_PROOF_INVALID)
    return cert


def verify(
    link: link_pb.MyNumberLinkRequest,
    *,
    fuhyo: Identity,
    organ: Identity,
    cas: list[x509.Certificate],
    revocation: RevocationList | None,
    now: dt.datetime,
) -> pb.ResidentQuery:
    """The organ's query behind `link` if the organ signed it for this request; RefusedError
    (ORGAN_PROOF_MISSING / _INVALID / _STALE / _MISMATCH) otherwise. `revocation` is the
    node's own list (None where the node checks none, as its TLS then does)."""
    signed = link.organ_query
    if not signed.query or not signed.signature:
        raise RefusedError(Reason.ORGAN_PROOF_MISSING)
    if len(signed.query) > MAX_QUERY_BYTES or len(signed.signature) > 256:
        raise RefusedError(Reason.ORGAN_PROOF_INVALID)
    cert = _organ_certificate(link.organ_certificate, organ, cas, now)
    if revocation is not None:
        try:  # fails closed: no list, a stale list or the serial listed all refuse
            revocation.check(cert.public_bytes(serialization.Encoding.PEM))
        except RefusedError:
            raise RefusedError(Reason.ORGAN_PROOF_INVALID) from None
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise RefusedError(Reason.ORGAN_PROOF_INVALID)
    try:
        public_key.verify(signed.signature, CONTEXT + signed.query, ec.ECDSA(hashes.SHA256()))
        body: fuhyo_pb.OrganQuery = fuhyo_pb.OrganQuery.FromString(signed.query)
        signed_at = body.signed_at.ToDatetime(dt.UTC)
    except (InvalidSignature, DecodeError, ValueError, OverflowError):
        raise RefusedError(Reason.ORGAN_PROOF_INVALID) from None
    if not now - FRESH_FOR <= signed_at <= now + AHEAD_BY:
        raise RefusedError(Reason.ORGAN_PROOF_STALE)
    query = body.query
    if (
        body.audience != fuhyo.spiffe_id
        or query.request_id != link.request_id
        or query.task_id != link.task_id
    ):
        raise RefusedError(Reason.ORGAN_PROOF_MISMATCH)
    return query
