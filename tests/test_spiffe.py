"""A node whose certificate comes from the SPIFFE Workload API (a SPIRE agent), rotating with it.

The Workload API here is an in-process server speaking the real protocol
(tests/helpers/workload_api.py); the node is a real `juki-net serve` process
provisioned with `node init --workload-api`, asked over mutual TLS.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from juki.v1 import node_admin_service_pb2 as admin_pb
from juki.v1 import node_admin_service_pb2_grpc as admin_grpc
from juki.v1.access_service_pb2 import ACCESS_RIGHT_STATUS as STATUS
from jukinet.ca.folder import CaFolder
from jukinet.core.config import Credentials
from jukinet.core.identity import Identity
from jukinet.dev.topology import free_port
from jukinet.trust import pki, tls
from tests.helpers.access import grant_by_two
from tests.helpers.logs import json_lines
from tests.helpers.network import wait_for
from tests.helpers.workload_api import WorkloadApi, response

NODE = Identity.parse("spiffe://juki.example/cs/141003")
OPERATOR = Identity.parse("spiffe://juki.example/operator/14/admin-1")
SECOND_ADMIN = Identity.parse("spiffe://juki.example/operator/14/admin-2")
THIRD_ADMIN = Identity.parse("spiffe://juki.example/operator/14/admin-3")


@dataclass
class Spire:
    """The CA standing in for SPIRE's, its Workload API, and the node taking SVIDs from it."""

    folder: CaFolder
    api: WorkloadApi
    address: str
    operator: Credentials
    node_dir: Path

    def svid(self, identity: Identity = NODE) -> tuple[x509.Certificate, object]:
        """A new SVID (certificate and key) for `identity`, issued now for an hour."""
        return pki.issue(
            self.folder.signer(),
            identity,
            lifetime=dt.timedelta(hours=1),
            dns_names=tls.certificate_dns_names(identity),
        )

    def push(self, identity: Identity = NODE) -> x509.Certificate:
        cert, key = self.svid(identity)
        bundle = [i.certificate for i in self.folder.trusted()]
        self.api.rotate(response(identity.spiffe_id, [cert], key, bundle))  # type: ignore[arg-type]
        return cert

    def status(self) -> admin_pb.GetNodeStatusResponse:
        with tls.secure_channel(self.address, self.operator, NODE) as channel:
            reply: admin_pb.GetNodeStatusResponse = admin_grpc.NodeAdminServiceStub(
                channel
            ).GetNodeStatus(admin_pb.GetNodeStatusRequest(), timeout=5)
        return reply


@pytest.fixture
def spire(tmp_path: Path) -> Iterator[Spire]:
    folder = CaFolder(tmp_path / "pki")
    folder.ensure_ca()
    cert, key = pki.issue(folder.signer(), NODE, dns_names=tls.certificate_dns_names(NODE))
    first = response(NODE.spiffe_id, [cert], key, [folder.signer().certificate])
    port = str(free_port())
    with WorkloadApi(tmp_path / "agent.sock", first) as api:
        node_dir = tmp_path / "cs-141003"
        subprocess.run(
            [
                sys.executable, "-m", "jukinet.cli", "node", "init", "--dir", str(node_dir),
                "--role", "cs", "--code", "141003", "--listen", f"127.0.0.1:{port}",
                "--advertise", "127.0.0.1", "--bundle", str(folder.bundle),
                "--trust-refresh-s", "0", "--workload-api", api.address,
                "--administrator", SECOND_ADMIN.spiffe_id, "--administrator", OPERATOR.spiffe_id,
                "--administrator", THIRD_ADMIN.spiffe_id,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        shutil.copyfile(folder.crl, node_dir / "trust" / "crl.pem")  # nothing refreshes it here
        op_cert, op_key = pki.issue(folder.signer(), OPERATOR)
        op_files = pki.write_pair(tmp_path / "clients", "operator", op_cert, op_key)
        operator = Credentials(
            cert_file=op_files[0], key_file=op_files[1], trust_bundle=folder.bundle
        )

        def admin(identity: Identity, stem: str) -> Credentials:
            cert, key = pki.write_pair(
                tmp_path / "clients", stem, *pki.issue(folder.signer(), identity)
            )
            return Credentials(cert_file=cert, key_file=key, trust_bundle=folder.bundle)

        # The operator's own grant: made by one administrator, approved by a third.
        second, third = admin(SECOND_ADMIN, "admin-2"), admin(THIRD_ADMIN, "admin-3")
        with (tmp_path / "node.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jukinet.cli",
                    "serve",
                    "--config",
                    str(node_dir / "config.toml"),
                    "--log-format",
                    "json",
                ],
                env={**os.environ, "PYTHONWARNINGS": "always"},  # py-spiffe's import warns
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            address = f"127.0.0.1:{port}"

            def granted() -> bool:
                try:
                    grant_by_two(address, NODE, second, third, OPERATOR, [STATUS])
                except grpc.RpcError:
                    return False
                return True

            wait_for(granted)
            yield Spire(folder, api, address, operator, node_dir)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _serves(spire: Spire, cert: x509.Certificate) -> bool:
    try:
        status = spire.status()
    except grpc.RpcError:
        return False
    return bool(status.certificate_not_after.ToDatetime(dt.UTC) == cert.not_valid_after_utc)


def test_a_node_takes_its_svid_from_the_workload_api_and_follows_its_rotation(
    spire: Spire,
) -> None:
    wait_for(lambda: _reachable(spire))
    assert spire.status().spiffe_id == NODE.spiffe_id
    first = pki.load_certificate(spire.node_dir / "node.crt")
    assert _serves(spire, first)
    rotated = spire.push()
    wait_for(lambda: _written(spire) == rotated.serial_number, timeout=30)
    wait_for(lambda: _serves(spire, rotated), timeout=30)
    # An SVID of another identity is not taken in: the node keeps its own until the next.
    spire.push(Identity.parse("spiffe://juki.example/cs/141305"))
    log = spire.node_dir.parent / "node.log"
    wait_for(lambda: "SVID of another identity" in log.read_text(errors="replace"), timeout=30)
    assert _written(spire) == rotated.serial_number
    again = spire.push()
    wait_for(lambda: _written(spire) == again.serial_number, timeout=30)
    wait_for(lambda: _serves(spire, again), timeout=30)
    # The log is JSON lines only, whatever the Workload API client's import warned.
    assert all(line["node"] == "cs-141003" for line in json_lines(log))


def _written(spire: Spire) -> int:
    """The serial of the certificate in the node's credential file."""
    return int(pki.load_certificate(spire.node_dir / "node.crt").serial_number)


def _reachable(spire: Spire) -> bool:
    try:
        spire.status()
    except grpc.RpcError:
        return False
    return True
