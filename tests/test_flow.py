"""The birth flow CS → prefecture → national, its trace, and the absence of personal data."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from juki.v1 import common_pb2
from juki.v1.cs_service_pb2 import SubmitChangeRequest, SubmitChangesRequest
from juki.v1.cs_service_pb2_grpc import CsServiceStub
from jukinet.client import calls as clients
from jukinet.client.calls import submit_change
from jukinet.core.errors import error_info
from jukinet.core.telemetry import setup_tracing
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.network import spans_settled, versions, wait_for

APPLIED, DUPLICATE = common_pb2.CHANGE_OUTCOME_APPLIED, common_pb2.CHANGE_OUTCOME_DUPLICATE

PATH = ("cs-141003", "prefecture-14", "national")


def _birth(seed: int) -> common_pb2.Change:
    return synthetic.birth("141003", random.Random(seed))


def test_birth_lands_at_national_with_every_field_intact(network: LocalNetwork) -> None:
    change = _birth(1)
    assert submit_change(network.info, change) == APPLIED
    rows = wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    r = change.record
    for node in PATH:
        (row,) = versions(network, node, r.juminhyo_code)
        assert (row.version, row.change_id, row.change_reason, row.change_date) == (
            1,
            change.change_id,
            common_pb2.CHANGE_REASON_BIRTH,
            change.change_date,
        )
        assert (row.my_number, row.name_kanji, row.name_kana, row.birth_date, row.sex) == (
            r.my_number,
            r.name_kanji,
            r.name_kana,
            r.birth_date,
            r.sex,
        )
        assert (row.address_municipality_code, row.address_text, row.municipality_code) == (
            r.address.municipality_code,
            r.address.text,
            "141003",
        )
    assert len(rows) == 1


def test_resubmitting_the_same_change_is_a_no_op(network: LocalNetwork) -> None:
    change = _birth(2)
    assert submit_change(network.info, change) == APPLIED
    assert submit_change(network.info, change) == DUPLICATE
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    for node in PATH:
        assert len(versions(network, node, change.record.juminhyo_code)) == 1


def test_many_changes_in_one_call_are_taken_in_order_each_on_its_own(
    network: LocalNetwork,
) -> None:
    rng = random.Random(11)
    born = synthetic.birth("141003", rng)
    renamed = synthetic.follow(born, common_pb2.CHANGE_REASON_NAME_CHANGE, rng=rng)
    bad = synthetic.birth("141003", rng)
    bad.record.my_number = "12345"  # not 12 digits
    foreign = synthetic.birth("141305", rng)
    again = synthetic.birth("141003", rng)
    assert submit_change(network.info, again) == APPLIED
    results = clients.submit_changes(network.info, [born, renamed, bad, foreign, again])
    assert [(r.change_id, r.outcome, r.reason) for r in results] == [
        (born.change_id, common_pb2.CHANGE_OUTCOME_APPLIED, ""),
        (renamed.change_id, common_pb2.CHANGE_OUTCOME_APPLIED, ""),
        (bad.change_id, common_pb2.CHANGE_OUTCOME_REJECTED, "INVALID_FIELD"),
        (foreign.change_id, common_pb2.CHANGE_OUTCOME_REJECTED, "WRONG_MUNICIPALITY"),
        (again.change_id, common_pb2.CHANGE_OUTCOME_DUPLICATE, ""),
    ]
    # The follow-up saw the birth of the same call; both reach national, the refused ones nowhere.
    rows = wait_for(lambda: _two_versions(network, born.record.juminhyo_code))
    assert [r.change_id for r in rows] == [born.change_id, renamed.change_id]
    for node in PATH:
        assert versions(network, node, bad.record.juminhyo_code) == []
        assert versions(network, node, foreign.record.juminhyo_code) == []
    # A refused change stays decided: sending it again answers the same refusal.
    (repeat,) = clients.submit_changes(network.info, [bad])
    assert (repeat.outcome, repeat.reason) == (common_pb2.CHANGE_OUTCOME_REJECTED, "INVALID_FIELD")
    # One at a time too: the refusal, never an acceptance — even mended, the id was refused.
    mended = common_pb2.Change()
    mended.CopyFrom(bad)
    mended.record.my_number = synthetic.birth("141003", random.Random(12)).record.my_number
    with pytest.raises(grpc.RpcError) as refused:
        submit_change(network.info, mended)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(refused.value)
    assert info is not None and info.reason == "INVALID_FIELD"


def _two_versions(net: LocalNetwork, code: str) -> list[Any] | None:
    rows = versions(net, "national", code)
    return rows if len(rows) == 2 else None


def test_an_empty_or_oversized_call_is_refused_whole(network: LocalNetwork) -> None:
    rng = random.Random(12)
    too_many = [synthetic.birth("141003", rng) for _ in range(501)]
    for changes in ([], too_many):
        with (
            pytest.raises(grpc.RpcError) as refused,
            network.client_channel("cs-141003", "register-141003") as channel,
        ):
            CsServiceStub(channel).SubmitChanges(SubmitChangesRequest(changes=changes), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for change in too_many[:3]:
        assert versions(network, "cs-141003", change.record.juminhyo_code) == []


def test_the_first_check_is_the_fields_then_who_may(network: LocalNetwork) -> None:
    """An empty or malformed municipality code is INVALID_FIELD (not another municipality's);
    bytes that are not a SubmitChangeRequest are INVALID_ARGUMENT, not INTERNAL."""
    change = _birth(31)
    for code in ("", "12", "14100x"):
        change.municipality_code = code
        with (
            pytest.raises(grpc.RpcError) as refused,
            network.client_channel("cs-141003", "register-141003") as channel,
        ):
            CsServiceStub(channel).SubmitChange(SubmitChangeRequest(change=change), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info = error_info(refused.value)
        assert info is not None and info.reason == "INVALID_FIELD"
    with (
        pytest.raises(grpc.RpcError) as garbage,
        network.client_channel("cs-141003", "register-141003") as channel,
    ):
        channel.unary_unary("/juki.v1.CsService/SubmitChange")(b"\xff\xff\xff", timeout=10)
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _spans(net: LocalNetwork, node: str) -> list[dict[str, Any]]:
    path = Path(net.node_info(node).trace_file)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_one_trace_covers_cs_prefecture_national(network: LocalNetwork) -> None:
    change = _birth(3)
    submit_change(network.info, change)
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    spans_settled(network, PATH)  # each process writes its spans in its own batches

    def spans_of_trace() -> dict[str, list[dict[str, Any]]] | None:
        submit = [s for s in _spans(network, "cs-141003") if s["name"].endswith("/SubmitChange")]
        if not submit:
            return None  # spans reach the file in batches (every 200 ms)
        trace_id = submit[-1]["context"]["trace_id"]
        found = {
            n: [s for s in _spans(network, n) if s["context"]["trace_id"] == trace_id] for n in PATH
        }
        national = [s for s in found["national"] if s["name"].endswith("DeliverPrefectureChanges")]
        return found if national else None

    found = wait_for(spans_of_trace)
    by_id = {s["context"]["span_id"]: s for spans in found.values() for s in spans}

    def server_span(node: str, method: str) -> dict[str, Any]:
        (span,) = [
            s for s in found[node] if s["kind"] == "SpanKind.SERVER" and s["name"].endswith(method)
        ]
        return span

    def ancestors(span: dict[str, Any]) -> list[str]:
        names = []
        while span.get("parent_id") in by_id:
            span = by_id[span["parent_id"]]
            names.append(f"{span['resource']['attributes']['service.name']}:{span['name']}")
        return names

    # The national server's span descends, through client spans and outbox deliveries,
    # from the prefecture's server span, which descends from the CS's SubmitChange span.
    national_chain = ancestors(server_span("national", "DeliverPrefectureChanges"))
    assert "prefecture-14:/juki.v1.PrefectureService/DeliverMunicipalChanges" in national_chain
    assert "cs-141003:/juki.v1.CsService/SubmitChange" in national_chain
    assert "prefecture-14:outbox.deliver" in national_chain
    # Client spans exist on the sending side of each hop and are parents across processes.
    nat = server_span("national", "DeliverPrefectureChanges")
    assert by_id[nat["parent_id"]]["kind"] == "SpanKind.CLIENT"
    assert by_id[nat["parent_id"]]["resource"]["attributes"]["service.name"] == "prefecture-14"
    pref = server_span("prefecture-14", "DeliverMunicipalChanges")
    assert by_id[pref["parent_id"]]["resource"]["attributes"]["service.name"] == "cs-141003"


def _personal_values(change: common_pb2.Change) -> list[str]:
    r = change.record
    return [
        r.juminhyo_code,
        r.my_number,
        r.name_kanji,
        r.name_kana,
        r.address.text,
        r.birth_date,
        r.name_kanji.split()[0],
        r.name_kana.split()[0],
    ]


def test_no_personal_data_in_spans_or_logs(network: LocalNetwork) -> None:
    change = _birth(4)
    submit_change(network.info, change)
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    spans_settled(network, [n.name for n in network.info.nodes])
    assert all(Path(network.node_info(n).trace_file).stat().st_size > 0 for n in PATH)
    for node in network.info.nodes:
        for key in ("trace_file", "log_file"):
            text = Path(getattr(node, key)).read_text(encoding="utf-8", errors="replace")
            for value in _personal_values(change):
                assert value not in text, f"personal data in {node.name} {key}"


def test_the_span_file_holds_what_the_sdk_would_write(tmp_path: Path) -> None:
    """The span file's own formatter (resource turned into JSON once) writes each span with
    exactly the keys and values of the SDK's ReadableSpan.to_json."""
    file = tmp_path / "spans.jsonl"
    provider = setup_tracing("node-x", file)
    kept = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer", attributes={"rpc.method": "M"}) as outer:
        outer.add_event("step", {"n": 1})
        with tracer.start_as_current_span("inner", links=[trace.Link(outer.get_span_context())]):
            pass
    provider.shutdown()
    written = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert written == [json.loads(span.to_json()) for span in kept.get_finished_spans()]
    assert [s["name"] for s in written] == ["inner", "outer"]


def test_a_burst_of_spans_is_written_whole(tmp_path: Path) -> None:
    """Spans reach the file in batches off the request path; a burst larger than the SDK's
    default queue (2,048) is still written whole, none dropped."""
    file = tmp_path / "spans.jsonl"
    provider = setup_tracing("node-x", file)
    tracer = provider.get_tracer("test")
    for i in range(10_000):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    provider.shutdown()
    assert len(file.read_text(encoding="utf-8").splitlines()) == 10_000
