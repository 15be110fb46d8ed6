"""An in-process SPIFFE Workload API server speaking the real protocol (what a SPIRE agent serves).

`SpiffeWorkloadAPI.FetchX509SVID` over a Unix domain socket, from py-spiffe's
generated stubs of the SPIFFE workload.proto: a stream of X509SVIDResponse
messages (DER certificate chain, PKCS#8 key, DER bundle), the next one sent
whenever the test rotates the SVID. As the specification requires, a call
without the ``workload.spiffe.io: true`` metadata is refused.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from spiffe._proto import workload_pb2, workload_pb2_grpc


def response(
    spiffe_id: str,
    chain: list[x509.Certificate],
    key: ec.EllipticCurvePrivateKey,
    bundle: list[x509.Certificate],
) -> workload_pb2.X509SVIDResponse:
    """One X509SVIDResponse, encoded as the Workload API encodes it (DER)."""
    der = serialization.Encoding.DER
    return workload_pb2.X509SVIDResponse(
        svids=[
            workload_pb2.X509SVID(
                spiffe_id=spiffe_id,
                x509_svid=b"".join(c.public_bytes(der) for c in chain),
                x509_svid_key=key.private_bytes(
                    der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
                bundle=b"".join(c.public_bytes(der) for c in bundle),
            )
        ]
    )


class WorkloadApi(workload_pb2_grpc.SpiffeWorkloadAPIServicer):  # type: ignore[misc]
    """FetchX509SVID: the current SVID, then each rotation, to every caller."""

    def __init__(self, socket: Path, first: workload_pb2.X509SVIDResponse) -> None:
        self.address = f"unix://{socket}"
        self._current = first
        self._watchers: list[queue.Queue[workload_pb2.X509SVIDResponse]] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(self, self._server)
        self._server.add_insecure_port(self.address)

    def FetchX509SVID(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        if ("workload.spiffe.io", "true") not in context.invocation_metadata():
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing")
        updates: queue.Queue[workload_pb2.X509SVIDResponse] = queue.Queue()
        self._watchers.append(updates)
        yield self._current
        while context.is_active():
            try:
                yield updates.get(timeout=0.5)
            except queue.Empty:
                continue

    def rotate(self, update: workload_pb2.X509SVIDResponse) -> None:
        """Send a new SVID to every caller (as SPIRE does before the old one expires)."""
        self._current = update
        for watcher in self._watchers:
            watcher.put(update)

    def __enter__(self) -> WorkloadApi:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(0)
