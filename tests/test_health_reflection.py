"""Every node answers health checks and reflection, from Python and from the real grpcurl binary."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from jukinet.dev.localnet import LocalNetwork
from tests.helpers.grpcurl import grpcurl_binary

EXPECTED = {
    "national": "juki.v1.NationalService",
    "prefecture": "juki.v1.PrefectureService",
    "cs": "juki.v1.CsService",
    "fuhyo": "juki.v1.NodeAdminService",
}


def test_every_node_is_serving_and_lists_its_services(network: LocalNetwork) -> None:
    for node in network.info.nodes:
        with network.operator_channel(node.name) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            (answer,) = stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
            names = {s.name for s in answer.list_services_response.service}
        assert {
            EXPECTED[node.role],
            "juki.v1.NodeAdminService",
            "grpc.health.v1.Health",
        } <= names


def _grpcurl(
    network: LocalNetwork, address: str, *args: str, data: str | None = None
) -> subprocess.CompletedProcess[str]:
    op = network.info.operator
    command = [
        grpcurl_binary(),
        "-cacert",
        network.info.trust_bundle,
        "-cert",
        op.cert,
        "-key",
        op.key,
        *(["-d", data] if data is not None else []),
        address,
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_grpcurl_lists_and_calls_every_node(network: LocalNetwork) -> None:
    for node in network.info.nodes:
        listed = _grpcurl(network, node.address, "list")
        assert listed.returncode == 0, listed.stderr
        assert EXPECTED[node.role] in listed.stdout.split()
        health = _grpcurl(network, node.address, "grpc.health.v1.Health/Check")
        assert json.loads(health.stdout) == {"status": "SERVING"}
        status = _grpcurl(network, node.address, "juki.v1.NodeAdminService/GetNodeStatus")
        assert status.returncode == 0, status.stderr
        reply: dict[str, Any] = json.loads(status.stdout)
        assert reply["spiffe_id"] == node.spiffe_id  # grpcurl prints proto field names


def test_printed_grpcurl_commands_work(network: LocalNetwork) -> None:
    from jukinet.dev.grpcurl import grpcurl_commands

    commands = [c for c in grpcurl_commands(network.info) if not c.startswith("#")]
    # list, health, status per node; provision statistics at the operator's prefecture server
    assert len(commands) == 3 * len(network.info.nodes) + 1
    for line in [*commands[:3], *(c for c in commands if "ProvisionAdminService" in c)]:
        args = shlex.split(line)[1:]
        done = subprocess.run(
            [grpcurl_binary(), *args], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr


def test_grpcurl_without_client_certificate_is_refused(network: LocalNetwork) -> None:
    node = network.node_info("prefecture-14")
    done = subprocess.run(
        [grpcurl_binary(), "-cacert", network.info.trust_bundle, node.address, "list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0


@pytest.mark.parametrize("client", ["register-141003"])
def test_grpcurl_non_operator_cannot_read_node_status(network: LocalNetwork, client: str) -> None:
    who = network.info.clients[client]
    node = network.node_info("cs-141003")
    done = subprocess.run(
        [
            grpcurl_binary(),
            "-cacert",
            network.info.trust_bundle,
            "-cert",
            who.cert,
            "-key",
            who.key,
            node.address,
            "juki.v1.NodeAdminService/GetNodeStatus",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "PermissionDenied" in done.stderr


def test_grpcurl_runs_a_consistency_check(network: LocalNetwork) -> None:
    """整合性確認 from grpcurl, as an operator: one report per file, nothing differs."""
    node = network.node_info("cs-141003")
    done = _grpcurl(
        network,
        node.address,
        "juki.v1.ConsistencyAdminService/RunConsistencyCheck",
        data='{"municipality_code": "141003"}',
    )
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)["reports"]
    assert [r["file"] for r in reports] == ["RECORD_FILE_RESIDENT", "RECORD_FILE_FUHYO"]
    assert all(r["complete"] and not r.get("differences") for r in reports)
