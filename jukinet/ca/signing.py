"""Signing what nodes ask for: certificates from PKCS#10 requests, and key documents.

A node makes its own keys on its own machine and sends only requests (`juki-net
node init`). The CA operator signs a node's first request after checking it
names the identity the operator expects and reading what will be signed
(`read_request`, then `sign`): the certificate gets the DNS names derived from
the identity by one rule (trust/tls.py `certificate_dns_names`: a node's name
its peers check, none for a client), never the names the request asks for, and
the identity, its names and lifetime are recorded as approved. Every
certificate signed is recorded in the CA's ledger (ca/ledger.py), so revoking an
identity (`evict`) revokes its renewals too. From then on the node renews
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
from jukinet.sealing.key_documents import sign_document, verify_document
from jukinet.sealing.keys import KeyTrustError
from jukinet.trust import pki
from jukinet.trust.tls import certificate_dns_names


@dataclass(frozen=True)
class Approval:
    """What the operator approved for one identity: its names and certificate lifetime."""

    spiffe_id: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    lifetime_s: float


@dataclass(frozen=True)
class FirstRequest:
    """A node's or client's first request, read and checked, as the operator signs it."""

    identity: Identity
    public_key: ec.EllipticCurvePublicKey
    approval: Approval  # what the certificate will carry, and its renewals
    ignored_dns_names: tuple[str, ...]  # asked for, never issued (names derive from identity)


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

    def _save(self, approvals: dict[str, Approval]) -> None:
        data = {k: asdict(v) | {"spiffe_id": k} for k, v in approvals.items()}
        pki.write_atomic(self._approvals_file, json.dumps(data, indent=1).encode())

    def read_request(
        self, csr_pem: bytes, *, expect: Identity, lifetime: dt.timedelta
    ) -> FirstRequest:
        """A first request as the operator is shown it before signing (`pki sign`); PkiError
        if it is not `expect`'s. Its DNS names are the identity's derived ones, whatever it
        asks for (a CS must not get national's name); its IP addresses are as asked, shown."""
        try:
            csr = pki.load_request(csr_pem)
            spiffe_id, asked_dns, ip_addresses = pki.requested_names(csr)
            identity = Identity.parse(spiffe_id)
            public_key = _public_key(csr)
        except (ValueError, IdentityError) as error:
            raise PkiError(f"not a request juki-net can sign: {error}") from None
        if identity != expect:
            raise PkiError(f"the request is for {identity}, not the expected {expect}")
        dns_names = tuple(certificate_dns_names(identity))
        approval = Approval(
            identity.spiffe_id, dns_names, tuple(ip_addresses), lifetime.total_seconds()
        )
        ignored = tuple(name for name in asked_dns if name not in dns_names)
        return FirstRequest(identity, public_key, approval, ignored)

    def sign(self, request: FirstRequest) -> x509.Certificate:
        """The operator's signature on a first request (read with `read_request`): its
        identity, names and lifetime are approved for the node's later renewals."""
        self._save(self.approvals() | {request.identity.spiffe_id: request.approval})
        return self._certify(request.identity, request.public_key, request.approval)

    def _certify(
        self,
        identity: Identity,
        public_key: ec.EllipticCurvePublicKey,
        approval: Approval,
        parent: int | None = None,
    ) -> x509.Certificate:
        """Sign, and record in the CA's ledger before the certificate leaves (ca/ledger.py)."""
        signer = self.folder.signer()
        cert = pki.certify(
            signer,
            identity,
            public_key,
            lifetime=dt.timedelta(seconds=approval.lifetime_s),
            dns_names=approval.dns_names,
            ip_addresses=approval.ip_addresses,
            clock=self.folder.clock,
        )
        self.folder.ledger.record(cert, signer.certificate, parent)
        return cert

    def evict(self, identity: Identity) -> list[int]:
        """Revoke every unexpired certificate of `identity` (ca/ledger.py) and withdraw its
        approval: its renewals are refused (IDENTITY_NOT_APPROVED) until the operator signs a
        new request for it. The serials revoked."""
        self._save({k: v for k, v in self.approvals().items() if k != identity.spiffe_id})
        return self.folder.revoke_identity(identity)

    def renew(
        self, csr_pem: bytes, caller: Identity, parent: int | None = None
    ) -> x509.Certificate:
        """A new certificate for `caller`'s own identity (the signing service's one check);
        `parent`: the serial of the certificate it called with (the ledger's link)."""
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
        return self._certify(caller, public_key, approval, parent)

    def sign_key_document(
        self, request: bytes, *, expect: Identity, witnesses_changed: bool = False
    ) -> Path:
        """Sign a node's key-document request and publish it; the published file.

        A document that would name other witnesses than the one published before it is
        refused unless the operator says the change is meant (`witnesses_changed`): a national
        server moving its history to witnesses that never saw it would otherwise need only a
        routine key rotation."""
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
        before = self._published_witnesses(path)
        after = list(envelope_pb2.KeyDocument.FromString(signed.document).witnesses)
        if before is not None and before != after and not witnesses_changed:
            raise PkiError(
                f"the document would name other witnesses ({', '.join(after) or 'none'}) than "
                f"the published one ({', '.join(before) or 'none'}); check with the node's "
                "operator, then sign with --witnesses-changed"
            )
        pki.write_atomic(path, signed.SerializeToString())
        return path

    def _published_witnesses(self, path: Path) -> list[str] | None:
        """The witnesses the published document at `path` names (None: none published)."""
        try:
            signed = envelope_pb2.SignedKeyDocument.FromString(path.read_bytes())
            trusted = [i.certificate for i in self.folder.trusted()]
            return list(verify_document(signed, trusted).witnesses)
        except (OSError, protobuf_message.DecodeError, KeyTrustError):
            return None

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
