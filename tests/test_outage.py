"""Store-and-forward: a hop that is down gets its changes when it returns, exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import grpc

from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc, prefecture_service_pb2
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.client.calls import submit_change
from jukinet.core.methods import DELIVER_MUNICIPAL_CHANGES
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.network import (
    channel_as,
    node_credentials,
    node_sealer,
    pending_outbox,
    versions,
    wait_for,
)


def _status(net: LocalNetwork, change_id: str) -> cs_service_pb2.GetChangeStatusResponse:
    with net.client_channel("cs-141003", "register-141003") as channel:
        return cs_service_pb2_grpc.CsServiceStub(channel).GetChangeStatus(
            cs_service_pb2.GetChangeStatusRequest(change_id=change_id), timeout=5
        )


def test_prefecture_down_change_waits_at_cs_then_arrives_once(network: LocalNetwork) -> None:
    network.stop_node("prefecture-14")
    try:
        change = synthetic.birth("141003", random.Random(101))
        submit_change(network.info, change)
        wait_for(lambda: _status(network, change.change_id).attempts >= 2)
        assert _status(network, change.change_id).state == cs_service_pb2.DELIVERY_STATE_PENDING
        assert pending_outbox(network, "cs-141003") >= 1
    finally:
        network.start_node("prefecture-14")
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    assert _status(network, change.change_id).state == cs_service_pb2.DELIVERY_STATE_DELIVERED
    for node in ("prefecture-14", "national"):
        assert len(versions(network, node, change.record.juminhyo_code)) == 1


def test_national_down_change_waits_at_prefecture_then_arrives_once(network: LocalNetwork) -> None:
    network.stop_node("national")
    try:
        change = synthetic.birth("141003", random.Random(102))
        submit_change(network.info, change)
        wait_for(lambda: versions(network, "prefecture-14", change.record.juminhyo_code))
        wait_for(lambda: pending_outbox(network, "prefecture-14") >= 1)
    finally:
        network.start_node("national")
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    wait_for(lambda: pending_outbox(network, "prefecture-14") == 0)
    assert len(versions(network, "national", change.record.juminhyo_code)) == 1


def test_redelivered_batch_is_not_applied_twice(network: LocalNetwork) -> None:
    """A CS whose acknowledgement was lost sends the same batch again: answered DUPLICATE."""
    batch = common_pb2.ChangeBatch(changes=[synthetic.birth("141003", random.Random(103))])
    sealer = node_sealer(network, "cs-141003")

    def request() -> prefecture_service_pb2.DeliverMunicipalChangesRequest:
        # A re-delivery is a new envelope (fresh id and time) around the same changes.
        envelope = sealer.seal(
            batch,
            recipient=network.node_info("prefecture-14").spiffe_id,
            method=DELIVER_MUNICIPAL_CHANGES,
        )
        return prefecture_service_pb2.DeliverMunicipalChangesRequest(envelope=envelope)

    creds = node_credentials(network, "cs-141003")
    with channel_as(network, "prefecture-14", creds) as channel:
        stub = prefecture_grpc.PrefectureServiceStub(channel)
        first = stub.DeliverMunicipalChanges(request(), timeout=5).results[0].outcome
        second = stub.DeliverMunicipalChanges(request(), timeout=5).results[0].outcome
    assert (first, second) == (
        common_pb2.CHANGE_OUTCOME_APPLIED,
        common_pb2.CHANGE_OUTCOME_DUPLICATE,
    )
    code = batch.changes[0].record.juminhyo_code
    wait_for(lambda: versions(network, "national", code))
    assert len(versions(network, "prefecture-14", code)) == 1
    assert len(versions(network, "national", code)) == 1


def test_a_refused_change_is_reported_back_and_not_retried(network: LocalNetwork) -> None:
    """A birth the prefecture already has (entered via another path) comes back REJECTED."""
    change = synthetic.birth("141003", random.Random(104))
    submit_change(network.info, change)
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    # Same person born again at 川崎市: the CS there has no record, the prefecture has.
    again = synthetic.birth("141305", random.Random(105))
    again.record.CopyFrom(change.record)
    again.record.address.municipality_code = "141305"
    again.change_date = change.change_date
    submit_change(network.info, again)
    with network.client_channel("cs-141305", "register-141305") as channel:
        stub = cs_service_pb2_grpc.CsServiceStub(channel)

        def status() -> cs_service_pb2.GetChangeStatusResponse | None:
            reply = stub.GetChangeStatus(
                cs_service_pb2.GetChangeStatusRequest(change_id=again.change_id)
            )
            return reply if reply.state == cs_service_pb2.DELIVERY_STATE_REJECTED else None

        reply = wait_for(status)
    assert reply.rejection_reason == "BIRTH_FOR_EXISTING_CODE"
    assert len(versions(network, "prefecture-14", change.record.juminhyo_code)) == 1


def test_unknown_change_status_is_not_found(network: LocalNetwork) -> None:
    try:
        _status(network, "00000000-0000-4000-8000-000000000000")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("expected NOT_FOUND")


def test_up_restarts_a_node_killed_with_sigkill_and_status_shows_it(
    network: LocalNetwork,
) -> None:
    pid = network.supervisor.pid("cs-141305")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: network.supervisor.restarts("cs-141305") == 1, timeout=30)
    network.wait_healthy("cs-141305")
    assert network.supervisor.pid("cs-141305") != pid
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "jukinet.cli",
            "status",
            "--network",
            str(network.dir / "network.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (line,) = [line for line in status.splitlines() if line.startswith("cs-141305 ")]
    uptime = line.split()[6]
    assert uptime.endswith("s"), line  # up for seconds: the restart shows
    # The restarted CS takes changes again, and they arrive.
    change = synthetic.birth("141305", random.Random(77))
    submit_change(network.info, change)
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
