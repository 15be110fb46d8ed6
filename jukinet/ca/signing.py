"""Signing what nodes ask for: certificates from PKCS#10 requests, and key documents.

A node makes its own keys on its own machine and sends only requests (`juki-net
node init`). The CA operator signs a node's first request after checking it
names the identity the operator expects (`sign_request`): the certificate gets
the DNS name peers check (derived from the identity), and the identity, its
names and lifetime are recorded as approved. From then on the node renews
itself (`renew`, behind the signing service's CertificateService): a request
for the calling certificate's own identity is signed with the approved names
and lifetime, whatever names the request asks for. A node's key-document
request is signed likewise (`sign_key_document`) and published, so that it
reaches every node with the trust material.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import message as protobuf_message

from juki.v1 import envelope_pb2
from jukinet.ca.folder import CaFolder, PkiError
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, IdentityError
from jukinet.sealing.keys import KeyTrustError, sign_document, verify_document
from jukinet.trust import pki
from jukinet.trust.tls import certificate_dns_names


@dataclass(frozen=True)
class Approval:
    """What the operator approved for one identity: its names and certificate lifetime."""

    spiffe_id: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    lifetime_s: float


def _public_key(csr: x509.CertificateSigningRequest) -> ec.EllipticCurvePublicKey:
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the request's key is not an ECDSA key")
    return key


class Signer:
    """Signs requests with a CA folder's signing CA, and remembers what it approved."""

    def __init__(self, folder: CaFolder) -> None:
        self.folder = folder

    @property
    def _approvals_file(self) -> Path:
        return self.folder.dir / "approved.json"

    def approvals(self) -> dict[str, Approval]:
        """Every approved identity, by SPIFFE ID."""
        if not self._approvals_file.exists():
            return {}
        raw = json.loads(self._approvals_file.read_text(encoding="utf-8"))
        return {
            spiffe_id: Approval(
                spiffe_id, tuple(a["dns_names"]), tuple(a["ip_addresses"]), a["lifetime_s"]
            )
            for spiffe_id, a in raw.items()
        }

    def _approve(self, approval: Approval) -> None:
        approvals = self.approvals() | {approval.spiffe_id: approval}
        data = {k: asdict(v) | {"spiffe_id": k} for k, v in approvals.items()}
        pki.write_atomic(self._approvals_file, json.dumps(data, indent=1).encode())

    def sign_request(
        self, csr_pem: bytes, *, expect: Identity, lifetime: dt.timedelta
    ) -> x509.Certificate:
        """The operator's signature on a first request; PkiError if it is not `expect`'s.

        The identity, its names (the derived DNS name added) and `lifetime` are
        approved for the node's later renewals.
        """
        try:
            csr = pki.load_request(csr_pem)
            spiffe_id, dns_names, ip_addresses = pki.requested_names(csr)
            identity = Identity.parse(spiffe_id)
            public_key = _public_key(csr)
        except (ValueError, IdentityError) as error:
            raise PkiError(f"not a request juki-net can sign: {error}") from None
        if identity != expect:
            raise PkiError(f"the request is for {identity}, not the expected {expect}")
        approval = Approval(
            identity.spiffe_id,
            tuple(certificate_dns_names(identity, dns_names)),
            tuple(ip_addresses),
            lifetime.total_seconds(),
        )
        self._approve(approval)
        return self._certify(identity, public_key, approval)

    def _certify(
        self, identity: Identity, public_key: ec.EllipticCurvePublicKey, approval: Approval
    ) -> x509.Certificate:
        return pki.certify(
            self.folder.signer(),
            identity,
            public_key,
            lifetime=dt.timedelta(seconds=approval.lifetime_s),
            dns_names=approval.dns_names,
            ip_addresses=approval.ip_addresses,
            clock=self.folder.clock,
        )

    def renew(self, csr_pem: bytes, caller: Identity) -> x509.Certificate:
        """A new certificate for `caller`'s own identity (the signing service's one check)."""
        try:
            csr = pki.load_request(csr_pem)
            spiffe_id, _, _ = pki.requested_names(csr)
            public_key = _public_key(csr)
        except ValueError:
            raise invalid_field("csr_pem", "must be a PEM PKCS#10 request that verifies") from None
        if spiffe_id != caller.spiffe_id:
            raise RefusedError(Reason.CSR_IDENTITY_MISMATCH)
        approval = self.approvals().get(caller.spiffe_id)
        if approval is None:
            raise RefusedError(Reason.IDENTITY_NOT_APPROVED)
        return self._certify(caller, public_key, approval)

    def sign_key_document(self, request: bytes, *, expect: Identity) -> Path:
        """Sign a node's key-document request and publish it; the published file."""
        try:
            document = envelope_pb2.KeyDocument.FromString(request)
            identity = Identity.parse(document.spiffe_id)
        except (protobuf_message.DecodeError, IdentityError):
            raise PkiError("not a key-document request") from None
        if identity != expect:
            raise PkiError(f"the key document is for {identity}, not the expected {expect}")
        if not document.keys:
            raise PkiError("the key document lists no keys")
        signed = sign_document(document, self.folder.signer())
        path = self.folder.published / "keys" / f"{identity.label}.keydoc"
        pki.write_atomic(path, signed.SerializeToString())
        return path

    def resign_published(self) -> list[Path]:
        """Sign every published key document again with the CA that signs now.

        At the start of a CA rollover: once the old CA leaves the bundle, a
        document it signed no longer verifies anywhere.
        """
        trusted = [i.certificate for i in self.folder.trusted()]
        resigned = []
        for path in sorted((self.folder.published / "keys").glob("*.keydoc")):
            signed = envelope_pb2.SignedKeyDocument.FromString(path.read_bytes())
            try:
                document = verify_document(signed, trusted)
            except KeyTrustError:
                continue  # not ours to vouch for
            pki.write_atomic(
                path, sign_document(document, self.folder.signer()).SerializeToString()
            )
            resigned.append(path)
        return resigned
