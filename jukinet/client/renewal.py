"""A client on a host of its own renews its own certificate, as nodes do.

A register system, an organ or an operator is a client, not a server: it has
no background job. Its certificate is renewed when it opens a channel past
the certificate's half-life (and by `juki-net pki renew-client`, for a timer), at the
CA's signing service the network description names, over the current, still
valid certificate (trust/reissue.py: a new key on this host, a request for the
same identity). A lock file beside the certificate keeps two processes of one
client from renewing at once or reading a half-written pair. A failed renewal
is logged and the current certificate kept: it is valid until it expires.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from cryptography import x509

from juki.v1 import trust_service_pb2 as trust_pb
from juki.v1 import trust_service_pb2_grpc as trust_grpc
from jukinet.core import clock
from jukinet.core.network import ClientEntry, NetworkDescription
from jukinet.trust import pki, tls
from jukinet.trust.reissue import renew_certificate

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0


@contextmanager
def client_lock(client: ClientEntry) -> Iterator[None]:
    """Held while a client's key and certificate are read or replaced (one process at a time)."""
    with open(client.cert.with_name(client.cert.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def renew(network: NetworkDescription, client: ClientEntry) -> x509.Certificate:
    """A new certificate for `client` from the signing service (the caller holds the lock);
    grpc.RpcError or ValueError if it cannot be had."""
    service = network.signing_service
    if service is None:
        raise ValueError("the network description names no signing service")
    creds = network.credentials(client)

    def send(csr_pem: bytes) -> bytes:
        with tls.secure_channel(service.address, creds, service.identity) as channel:
            reply = trust_grpc.CertificateServiceStub(channel).RenewCertificate(
                trust_pb.RenewCertificateRequest(csr_pem=csr_pem), timeout=TIMEOUT_S
            )
        return bytes(reply.certificate_pem)

    current = pki.load_certificate(client.cert)
    return renew_certificate(current, send, cert_file=client.cert, key_file=client.key)


def due(client: ClientEntry) -> bool:
    """Whether the client's certificate is past half its lifetime."""
    return pki.past_half_life(pki.load_certificate(client.cert), clock.SYSTEM.now())


def renew_if_due(network: NetworkDescription, client: ClientEntry) -> None:
    """Renew `client`'s certificate if it is past half-life and a signing service is named;
    a failure is logged (the current certificate stays in use)."""
    if network.signing_service is None or not client.cert.is_file() or not due(client):
        return
    with client_lock(client):
        if not due(client):
            return  # another process of this client renewed it meanwhile
        try:
            cert = renew(network, client)
        except (grpc.RpcError, ValueError) as error:
            reason = error.details() if isinstance(error, grpc.RpcError) else str(error)
            log.warning("certificate renewal failed: %s", reason)
            return
        log.info("certificate renewed; valid until %s", cert.not_valid_after_utc)
