"""Certificate lifecycle on a running network: renewal and CA rollover under traffic, revocation."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import grpc
import pytest
from sqlalchemy import func, select

from juki.v1 import cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import node_admin_service_pb2 as admin_pb2
from juki.v1 import node_admin_service_pb2_grpc as admin_grpc
from jukinet.client import calls as clients
from jukinet.core.errors import error_info
from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage.schema import audit_log, outbox
from jukinet.trust import pki, tls
from jukinet.trust.credentials import CredentialWatcher, Material, ReloadingChannel
from tests.helpers.network import (
    channel_as,
    client_credentials,
    node_credentials,
    node_db,
    versions,
    wait_for,
)

CSS = ("131016", "141003", "141305")


def _client_channel(net: LocalNetwork, node: str, client: str) -> ReloadingChannel:
    """A long-lived client channel that follows renewals of the client's own certificate."""
    watcher = CredentialWatcher(client_credentials(net, client))
    info = net.node_info(node)

    def build(m: Material) -> grpc.Channel:
        creds = tls.channel_credentials(m.key, m.cert, m.bundle)
        return tls.channel_to(info.address, creds, Identity.parse(info.spiffe_id))

    return ReloadingChannel(watcher, build)


class Traffic:
    """Register systems entering births at every CS, and the operator polling every node."""

    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.stop = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self.changes: list[str] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._births, args=(code,)) for code in CSS]
        self.threads.append(threading.Thread(target=self._status))

    def _births(self, code: str) -> None:
        channel = _client_channel(self.net, f"cs-{code}", f"register-{code}")
        rng = random.Random(code)
        while not self.stop.is_set():
            change = synthetic.birth(code, rng)
            try:
                cs_service_pb2_grpc.CsServiceStub(channel.get()).SubmitChange(
                    cs_service_pb2.SubmitChangeRequest(change=change), timeout=10
                )
                self.outcomes["ok"] += 1
                self.changes.append(change.record.juminhyo_code)
            except grpc.RpcError as error:
                self.errors.append(f"cs-{code}: {error.code()}")
            time.sleep(0.05)

    def _status(self) -> None:
        channels = {
            n.name: _client_channel(self.net, n.name, "operator") for n in self.net.info.nodes
        }
        while not self.stop.is_set():
            for name, channel in channels.items():
                try:
                    admin_grpc.NodeAdminServiceStub(channel.get()).GetNodeStatus(
                        admin_pb2.GetNodeStatusRequest(), timeout=10
                    )
                    self.outcomes["status"] += 1
                except grpc.RpcError as error:
                    self.errors.append(f"{name}: {error.code()}")
            time.sleep(0.1)

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def _max_attempts(net: LocalNetwork) -> int:
    """The most delivery attempts any outbox entry of any node needed (1 = never failed)."""
    worst = 0
    for node in net.info.nodes:
        engine = node_db(net, node.name)
        with engine.connect() as conn:
            worst = max(
                worst,
                int(
                    conn.execute(select(func.coalesce(func.max(outbox.c.attempts), 0))).scalar_one()
                ),
            )
        engine.dispose()
    return worst


def _issuer_fingerprint(net: LocalNetwork, name: str) -> str:
    cert = pki.load_certificate(net.node_dir(name) / "node.crt")
    from jukinet.sealing import key_documents

    ca = pki.issuing_ca(cert, key_documents.load_bundle(net.bundle))
    assert ca is not None
    return pki.fingerprint(ca)


def test_renewal_and_ca_rollover_under_traffic_lose_no_call(network: LocalNetwork) -> None:
    old_ca = _issuer_fingerprint(network, "national")
    with Traffic(network) as traffic:
        time.sleep(1.5)
        network.renew_all()  # every node and client certificate, same CA
        time.sleep(1.5)
        network.rollover_begin()  # bundle: old + new CA
        time.sleep(1.5)
        network.renew_all()  # everything now from the new CA, key documents re-signed
        time.sleep(1.5)
        network.rollover_finish()  # bundle: new CA only
        time.sleep(2.0)
    assert traffic.errors == [], traffic.errors[:5]
    assert traffic.outcomes["ok"] > 30 and traffic.outcomes["status"] > 50
    # Every change entered reached national, and no hop ever had to retry a delivery.
    last = traffic.changes[-1]
    wait_for(lambda: versions(network, "national", last), timeout=30)
    for code in traffic.changes[:: max(1, len(traffic.changes) // 20)]:
        assert versions(network, "national", code)
    assert _max_attempts(network) == 1
    # The nodes serve new-CA certificates, and the old CA is gone from the bundle.
    new_ca = _issuer_fingerprint(network, "national")
    assert new_ca != old_ca
    assert len(network.pki.trusted()) == 1
    with network.operator_channel("national") as channel:  # a fresh connection, new bundle only
        reply = admin_grpc.NodeAdminServiceStub(channel).GetNodeStatus(
            admin_pb2.GetNodeStatusRequest(), timeout=5
        )
    cert = pki.load_certificate(network.node_dir("national") / "node.crt")
    assert reply.certificate_not_after.ToDatetime(dt.UTC) == cert.not_valid_after_utc.replace(
        microsecond=0
    )


def test_revoked_cs_is_refused_and_the_others_continue(network: LocalNetwork) -> None:
    revoked_change = synthetic.birth("141305", random.Random(9001))
    network.revoke_node("cs-141305")
    # The revoked CS still takes changes from its register system (its server side is not
    # what was revoked from the register's point of view), but the prefecture refuses it.
    with network.client_channel("cs-141305", "register-141305") as channel:
        cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=revoked_change), timeout=5
        )
    other = synthetic.birth("141003", random.Random(9002))
    with network.client_channel("cs-141003", "register-141003") as channel:
        cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=other), timeout=5
        )
    wait_for(lambda: versions(network, "national", other.record.juminhyo_code))

    def refusal_recorded() -> bool:
        engine = node_db(network, "prefecture-14")
        with engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.actor).where(audit_log.c.reason == "CERTIFICATE_REVOKED")
            ).all()
        engine.dispose()
        return any(r.actor == "spiffe://juki.example/cs/141305" for r in rows)

    wait_for(refusal_recorded, timeout=10)
    assert versions(network, "prefecture-14", revoked_change.record.juminhyo_code) == []
    # The CS's log says why its outbox waits: the refusal's status and reason.
    log_file = network.node_info("cs-141305").log_file
    assert log_file is not None
    blocked = "next hop refused the batch (UNAUTHENTICATED [CERTIFICATE_REVOKED])"
    wait_for(lambda: blocked in log_file.read_text(encoding="utf-8", errors="replace"))
    # Operators see it too: `status` and `pki inspect` say REVOKED.
    assert _status_line(network, "cs-141305").endswith("REVOKED")
    assert not _status_line(network, "cs-141003").endswith("REVOKED")
    inspected = _juki_net(
        "pki",
        "inspect",
        str(network.node_dir("cs-141305") / "node.crt"),
        "--bundle",
        str(network.bundle),
    )
    assert json.loads(inspected)["status"] == "REVOKED"
    # A direct call with the revoked certificate: UNAUTHENTICATED, CERTIFICATE_REVOKED.
    revoked_creds = node_credentials(network, "cs-141305")
    with (
        channel_as(network, "prefecture-14", revoked_creds) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        admin_grpc.NodeAdminServiceStub(channel).GetNodeStatus(
            admin_pb2.GetNodeStatusRequest(), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).reason == "CERTIFICATE_REVOKED"
    # A new certificate (new serial) restores the CS; its queued change is delivered, once.
    network.issue_node_certificate("cs-141305")
    wait_for(lambda: versions(network, "national", revoked_change.record.juminhyo_code), timeout=30)
    assert len(versions(network, "prefecture-14", revoked_change.record.juminhyo_code)) == 1
    assert not _status_line(network, "cs-141305").endswith("REVOKED")


def _juki_net(*args: str) -> str:
    """Run the juki-net command; its stdout (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "jukinet.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _status_line(network: LocalNetwork, node: str) -> str:
    """`juki-net status`'s line for one node."""
    out = _juki_net("status", "--network", str(network.dir / "network.json"))
    (line,) = [line for line in out.splitlines() if line.startswith(f"{node} ")]
    return line.rstrip()


def test_renewal_at_half_life_is_picked_up_without_restart(network: LocalNetwork) -> None:
    # Compare the certificates' end dates, not seconds left: seconds left shrink while the test
    # polls, and a node whose certificate was reissued moments ago (the previous test) would
    # show hardly more after renewal than before.
    before = {r.node_name: r.certificate_not_after.ToSeconds() for r in _statuses(network)}
    cert = pki.load_certificate(network.node_dir("national") / "node.crt")
    half_life = (
        cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    )
    assert network.renew_due(half_life - dt.timedelta(minutes=30)) == []
    time.sleep(1.1)  # the new certificates start (backdated) one second later
    renewed = network.renew_due(half_life + dt.timedelta(minutes=1))
    assert set(renewed) == {p.name for p in network.topology}

    def all_picked_up() -> bool:
        # Each node's credential watcher notices the new files on its next poll.
        after = {r.node_name: r.certificate_not_after.ToSeconds() for r in _statuses(network)}
        return all(after[name] > before[name] for name in before)

    wait_for(all_picked_up, timeout=15)
    assert all(r.certificate_seconds_left > 0 for r in _statuses(network))


def _statuses(net: LocalNetwork) -> list[admin_pb2.GetNodeStatusResponse]:
    return [clients.node_status(net.info, node) for node in net.info.nodes]
