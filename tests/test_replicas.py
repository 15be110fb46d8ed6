"""Replicas on PostgreSQL: two `serve` processes of prefecture-14 and two of national, each pair
one identity on one database, behind one channel target (gRPC round-robin). 20,000 changes
entered at a CS, one replica of each killed with SIGKILL mid-stream: every change is applied
exactly once at national. And SQLite stays one process's: a second one is refused."""

from __future__ import annotations

import os
import random
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from juki.v1 import common_pb2
from jukinet.client import calls as clients
from jukinet.core.identity import Role
from jukinet.dev import localpg, replicas, synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.dev.topology import NodePlan
from jukinet.storage.schema import received_changes, resident_versions
from tests.helpers.cli import juki_net
from tests.helpers.network import running_network, wait_for
from tests.helpers.postgres import postgres_server

CHANGES = 20_000
PER_CALL = 500
REPLICATED = ("prefecture-14", "national")


def _count(url: str, statement: object) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())  # type: ignore[call-overload]
    finally:
        engine.dispose()


# Each replica's metrics address, to see that it took its share.
REPLICA_METRICS: dict[str, str] = {}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with postgres_server() as server:
        urls = {}

        def database(name: str) -> str:
            if name not in urls:
                urls[name] = localpg.create_database(server, name.replace("-", "_"))
            return urls[name]

        with running_network(tmp_path_factory.mktemp("net"), database_url=database) as net:
            above, below = replicas.replicate(net, "national", "prefecture-14")
            for replica in (above, below):
                REPLICA_METRICS[replica.node] = replica.metrics_address
            both = [net.node_info("prefecture-14").address, below.address]
            replicas.point_at(net, "cs-141003", "next_hop", both)
            try:
                yield net
            finally:
                for name in REPLICATED:
                    net.supervisor.stop(f"{name}-b")


@pytest.mark.timeout(900)
def test_every_change_reaches_national_exactly_once_through_killed_replicas(
    network: LocalNetwork,
) -> None:
    rng = random.Random(2017)
    births = [synthetic.birth("141003", rng) for _ in range(CHANGES)]
    national_url = network.node_info("national").database_url
    assert national_url is not None and national_url.startswith("postgresql")
    taken: list[str] = []
    killed = False
    for start in range(0, CHANGES, PER_CALL):
        batch = births[start : start + PER_CALL]
        results = clients.submit_changes(network.info, batch)
        taken += [r.change_id for r in results if r.outcome == common_pb2.CHANGE_OUTCOME_APPLIED]
        at_national = _count(national_url, select(func.count()).select_from(received_changes))
        if not killed and at_national >= CHANGES // 4:
            for name in REPLICATED:  # one replica of each, as a crash would
                pid = network.supervisor.pid(name)
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
            killed = True
    assert killed and len(taken) > CHANGES * 0.99

    def all_arrived() -> bool:
        received = select(func.count()).select_from(received_changes)
        return _count(national_url, received) >= len(taken)

    wait_for(all_arrived, timeout=600, interval=2.0)
    time.sleep(2)  # anything still in flight would show as more than taken
    per_change = (
        select(func.count())
        .select_from(resident_versions)
        .where(resident_versions.c.change_id.in_(taken))
    )
    assert _count(national_url, per_change) == len(taken)  # one version each: exactly once
    distinct = select(func.count(func.distinct(resident_versions.c.change_id)))
    assert _count(national_url, distinct) == _count(
        national_url, select(func.count()).select_from(resident_versions)
    )
    assert network.supervisor.restarts("prefecture-14") >= 1  # the killed one came back
    # The second replicas took deliveries too (round-robin), not only after the kill.
    for name, method in (
        ("prefecture-14", "DeliverMunicipalChanges"),
        ("national", "DeliverPrefectureChanges"),
    ):
        address = REPLICA_METRICS[name]
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        served = [
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "juki_rpc_duration_seconds_count"
            and s.labels.get("method", "").endswith(method)
        ]
        assert sum(served) > 0, name


def test_a_second_process_on_a_sqlite_node_is_refused(tmp_path: Path) -> None:
    with running_network(tmp_path / "net", topology=(NodePlan(Role.CS, "141003"),)) as net:
        config = net.node_info("cs-141003").config
        assert config is not None
        done = juki_net("serve", "--config", str(config))
        assert done.returncode == 2
        assert "another process serves this node's SQLite database" in done.stderr
