"""A client outside Python: tests/clients/node (Node.js, @grpc/grpc-js and @grpc/proto-loader),
written from the .proto files alone, against a real network — submits changes and reads the
outcome, reads a refusal's reason from its ErrorInfo, queries as an organ, checks health.

Skipped where node or the client's packages are missing, unless JUKI_REQUIRE_NODE is set (the
test command installs them and sets it)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.trust.tls import node_dns_name
from tests.helpers.cli import ROOT
from tests.helpers.network import versions, wait_for

CLIENT = ROOT / "tests" / "clients" / "node"


@pytest.fixture(scope="module")
def node_binary() -> str:
    node = shutil.which("node")
    if node is None or not (CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        if os.environ.get("JUKI_REQUIRE_NODE"):
            pytest.fail(
                "node or the Node client's packages are missing (npm ci in tests/clients/node)"
            )
        pytest.skip("node or the Node client's packages are missing (npm ci in tests/clients/node)")
    return node


def _call(
    net: LocalNetwork,
    node_binary: str,
    tmp_path: Path,
    *,
    as_client: str,
    to: str,
    method: str,
    request: Message | dict[str, Any],
) -> dict[str, Any]:
    client = net.info.client(as_client)
    target = net.node_info(to)
    service, rpc = method.rsplit("/", 1)
    body = _dict(request) if isinstance(request, Message) else request
    call = {
        "protos": str(ROOT / "protos"),
        "address": target.address,
        "server_name": node_dns_name(Identity.parse(target.spiffe_id)),
        "ca": str(net.info.trust_bundle),
        "cert": str(client.cert),
        "key": str(client.key),
        "service": service,
        "method": rpc,
        "request": body,
    }
    described = tmp_path / f"{rpc}-{random.random()}.json"
    described.write_text(json.dumps(call, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [node_binary, str(CLIENT / "client.js"), str(described)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_a_node_client_submits_queries_and_reads_refusals(
    network: LocalNetwork, node_binary: str, tmp_path: Path
) -> None:
    def call(**kw: Any) -> dict[str, Any]:
        return _call(network, node_binary, tmp_path, **kw)

    register = {"as_client": "register-141003", "to": "cs-141003"}
    born = synthetic.birth("141003", random.Random(9090))
    submit = "juki.v1.CsService/SubmitChange"
    first = call(**register, method=submit, request={"change": _dict(born)})
    assert first["response"]["outcome"] == "CHANGE_OUTCOME_APPLIED"
    again = call(**register, method=submit, request={"change": _dict(born)})
    assert again["response"]["outcome"] == "CHANGE_OUTCOME_DUPLICATE"
    bad = synthetic.birth("141003", random.Random(9091))
    bad.record.my_number = "12345"
    refused = call(**register, method=submit, request={"change": _dict(bad)})["error"]
    assert (refused["code"], refused["reason"]) == ("INVALID_ARGUMENT", "INVALID_FIELD")
    assert "12345" not in json.dumps(refused)
    # The organ asks its prefecture server once the birth is there.
    code = born.record.juminhyo_code
    wait_for(lambda: versions(network, "prefecture-14", code))
    query = {
        "query": {
            "task_id": "pref5-passport",
            "request_id": "6f1c1d4e-8a7b-4c2e-9d3f-0a1b2c3d4e5f",
            "operator_id": "clerk-1",
            "juminhyo_code": code,
        }
    }
    organ = {"as_client": "organ-14-passport-centre", "to": "prefecture-14"}
    answer = call(**organ, method="juki.v1.ProvisionService/QueryResidents", request=query)
    (record,) = answer["response"]["records"]
    assert record["record"]["juminhyo_code"] == code
    health = call(**register, method="grpc.health.v1.Health/Check", request={"service": ""})
    assert health["response"]["status"] == "SERVING"


def _dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
