"""CertificateService at the CA's signing service, and the CA's CRLs kept fresh.

A node of role `ca` whose config names the CA folder (`ca_folder`): it signs
renewal requests for the calling identity only (ca/signing.py), and re-signs
and publishes the CRLs at half their validity, so the revocation lists that
flow down the tree never go stale.
"""

from __future__ import annotations

import logging

import grpc
from cryptography import x509

from juki.v1 import trust_service_pb2 as pb
from juki.v1 import trust_service_pb2_grpc as pb_grpc
from jukinet.ca.folder import CaFolder
from jukinet.ca.signing import Signer
from jukinet.core import methods as m
from jukinet.core.clock import Clock
from jukinet.core.identity import Role, peer_certificate_pem
from jukinet.runtime.jobs import BackgroundJob
from jukinet.runtime.node import Node, ServiceSpec
from jukinet.trust import pki
from jukinet.trust.authz import current_caller
from services.shared.node_admin import add_node_admin

log = logging.getLogger(__name__)


class CertificateServicer(pb_grpc.CertificateServiceServicer):
    """RenewCertificate: a new certificate for the caller's own, approved identity."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def RenewCertificate(
        self, request: pb.RenewCertificateRequest, context: grpc.ServicerContext
    ) -> pb.RenewCertificateResponse:
        calling = x509.load_pem_x509_certificate(peer_certificate_pem(context))
        cert = self._signer.renew(request.csr_pem, current_caller(), calling.serial_number)
        return pb.RenewCertificateResponse(certificate_pem=pki.pem(cert))


class CrlKeeper(BackgroundJob):
    """Re-signs (and publishes) the CA folder's CRLs at half their validity."""

    def __init__(self, folder: CaFolder, *, clock: Clock, check_s: float) -> None:
        self._folder = folder
        self._clock = clock
        self._check_s = min(check_s, folder.crl_lifetime.total_seconds() / 8)
        super().__init__("crl-keeper")

    def run(self) -> None:
        """Check every `check_s` (at least eight times a CRL's validity)."""
        while not self.stopped.wait(self._check_s):
            if self._folder.crl_due(self._clock.now()):
                self._folder.write_crls()
                log.info("CRLs re-signed and published")


def _register(server: grpc.Server, node: Node) -> None:
    if node.config.ca_folder is None:
        raise ValueError("a signing service's config names its ca_folder")
    folder = CaFolder(node.config.ca_folder, clock=node.clock)
    add_node_admin(server, node)
    pb_grpc.add_CertificateServiceServicer_to_server(CertificateServicer(Signer(folder)), server)
    keeper = CrlKeeper(folder, clock=node.clock, check_s=node.config.renewal_check_s)
    keeper.start()
    node.close_on_stop(keeper.stop)


SPEC = ServiceSpec(
    role=Role.CA,
    service_names=(m.CERTIFICATE_SERVICE, m.NODE_ADMIN_SERVICE),
    register=_register,
)
