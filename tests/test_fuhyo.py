"""The fuhyo network on real servers: CS → fuhyo → national fuhyo with logic checks; provision
to organs; an emigrant's My Number through the narrow link, held only in the temporary store
until confirmed or expired; one trace organ → fuhyo → prefecture; no personal data left behind."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import inspect, select

from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import my_number_link_service_pb2_grpc as link_grpc
from juki.v1 import provision_service_pb2 as pb
from jukinet.client import calls as clients
from jukinet.core.errors import error_info
from jukinet.dev import synthetic
from jukinet.dev.demo import demo_fuhyo
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage.schema import fuhyo_current, fuhyo_versions
from tests.helpers.network import (
    channel_as,
    client_credentials,
    count_rows,
    last_audit_reason,
    node_credentials,
    node_db,
    provision_rows,
    running_network,
    spans_settled,
    versions,
    wait_for,
)

TTL_S = 3.0
TAX = "organ-14-tax-office"
PASSPORT = "organ-14-passport-centre"
TAX_TASK = "fuhyo5-prefectural-tax"
K = fuhyo_pb.FuhyoNoticeKind


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """The `juki-net up` network with a short My Number time-to-live at the fuhyo servers."""
    with running_network(tmp_path_factory.mktemp("net"), my_number_ttl_s=TTL_S) as net:
        yield net


def fuhyo_versions_of(net: LocalNetwork, node: str, code: str) -> list[Any]:
    engine = node_db(net, node)
    with engine.connect() as conn:
        rows = conn.execute(
            select(fuhyo_versions)
            .where(fuhyo_versions.c.juminhyo_code == code)
            .order_by(fuhyo_versions.c.version)
        ).all()
    engine.dispose()
    return list(rows)


def _refused(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    info = error_info(caught.value)
    assert info is not None
    return caught.value.code(), info.reason


class Person:
    """A synthetic person with a resident record and a fuhyo, both entered at one CS."""

    def __init__(self, net: LocalNetwork, municipality: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.net = net
        self.born = synthetic.birth(municipality, self.rng)
        self.code = self.born.record.juminhyo_code
        self.my_number = self.born.record.my_number
        self.fuhyo = synthetic.fuhyo_entry(self.born, self.rng)
        clients.submit_change(net.info, self.born)
        clients.submit_fuhyo_change(net.info, self.fuhyo)

    def emigrate(self, *, resident_record: bool = True) -> None:
        if resident_record:
            left = synthetic.follow(self.born, common_pb2.CHANGE_REASON_EMIGRATION, rng=self.rng)
            clients.submit_change(self.net.info, left)
        self.fuhyo = synthetic.fuhyo_follow(self.fuhyo, K.FUHYO_NOTICE_KIND_EMIGRATION, self.rng)
        clients.submit_fuhyo_change(self.net.info, self.fuhyo)

    def settled(self, fuhyo_server: str, versions_expected: int, resident: int) -> None:
        """Wait until the fuhyo reached the national fuhyo server and the resident record
        its prefecture server."""
        prefecture = "prefecture-" + fuhyo_server.split("-")[1]
        for node in (fuhyo_server, "national"):
            wait_for(
                lambda n=node: len(fuhyo_versions_of(self.net, n, self.code)) == versions_expected
            )
        wait_for(lambda: len(versions(self.net, prefecture, self.code)) == resident)


@pytest.fixture(scope="module")
def emigrant(network: LocalNetwork) -> Person:
    person = Person(network, "141003", 1)
    person.emigrate()
    person.settled("fuhyo-14", 2, 2)
    return person


@pytest.fixture(scope="module")
def stay_at_home(network: LocalNetwork) -> Person:
    person = Person(network, "141305", 2)
    person.settled("fuhyo-14", 1, 1)
    return person


def _tax_query(code: str, request_id: str | None = None, **kw: Any) -> pb.ResidentQuery:
    q = clients.query("fuhyo5-prefectural-tax", juminhyo_code=code, **kw)
    if request_id:
        q.request_id = request_id
    return q


def _link_rows(net: LocalNetwork, request_id: str) -> list[Any]:
    return [
        r for r in provision_rows(net, "prefecture-14", request_id) if r.caller.endswith("fuhyo/14")
    ]


def _store(net: LocalNetwork, name: str = "fuhyo-14") -> Path:
    return net.node_dir(name) / "my-number-store.db"


def _held(net: LocalNetwork) -> int:
    with sqlite3.connect(_store(net)) as conn:
        return int(conn.execute("SELECT count(*) FROM held_my_numbers").fetchone()[0])


# -- the flow CS → fuhyo → national ------------------------------------------------------------
def test_fuhyo_changes_flow_to_national_and_an_emigrant_stays_on_file(
    network: LocalNetwork, emigrant: Person
) -> None:
    left = emigrant.fuhyo.record
    for node in ("cs-141003", "fuhyo-14", "national"):
        first, second = fuhyo_versions_of(network, node, emigrant.code)
        assert (first.status, first.notice_kind) == (
            fuhyo_pb.FUHYO_STATUS_DOMESTIC,
            K.FUHYO_NOTICE_KIND_ENTRY,
        )
        assert (second.status, second.notice_kind) == (
            fuhyo_pb.FUHYO_STATUS_EMIGRATED,
            K.FUHYO_NOTICE_KIND_EMIGRATION,
        )
        assert second.last_domestic_address == first.address_text
        assert (second.address_municipality_code, second.address_text) == ("", left.address.text)
        assert second.keeping_municipality_code == "141003"
    # The fuhyo goes to the fuhyo network only, never to the prefecture server's tables.
    assert count_rows(network, "prefecture-14", "fuhyo_versions") == 0


def test_no_my_number_anywhere_in_the_fuhyo_record() -> None:
    assert "my_number" not in fuhyo_pb.FuhyoRecord.DESCRIPTOR.fields_by_name
    assert not any("my_number" in c.name for c in (*fuhyo_versions.c, *fuhyo_current.c))


def test_logic_checks_refuse_and_write_nothing(network: LocalNetwork, emigrant: Person) -> None:
    rng = random.Random(9)
    before = count_rows(network, "cs-141003", "fuhyo_versions")
    again = synthetic.fuhyo_follow(emigrant.fuhyo, K.FUHYO_NOTICE_KIND_ENTRY, rng)
    again.record.status = fuhyo_pb.FUHYO_STATUS_EMIGRATED
    twice = synthetic.fuhyo_follow(emigrant.fuhyo, K.FUHYO_NOTICE_KIND_EMIGRATION, rng)
    stranger = synthetic.fuhyo_entry(synthetic.birth("141003", rng), rng)
    not_on_file = synthetic.fuhyo_follow(stranger, K.FUHYO_NOTICE_KIND_REMOVAL, rng)
    emigrant_in_japan = synthetic.fuhyo_follow(emigrant.fuhyo, K.FUHYO_NOTICE_KIND_CORRECTION, rng)
    emigrant_in_japan.record.address.municipality_code = "141003"
    cases = [
        (again, grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_FOR_PERSON_ON_FILE"),
        (twice, grpc.StatusCode.FAILED_PRECONDITION, "ALREADY_EMIGRATED"),
        (not_on_file, grpc.StatusCode.FAILED_PRECONDITION, "PERSON_NOT_ON_FILE"),
        (emigrant_in_japan, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
    ]
    for change, code, reason in cases:
        assert _refused(lambda c=change: clients.submit_fuhyo_change(network.info, c)) == (
            code,
            reason,
        )
    assert count_rows(network, "cs-141003", "fuhyo_versions") == before


def test_removing_a_removed_person_is_refused(network: LocalNetwork) -> None:
    rng = random.Random(11)
    entry = synthetic.fuhyo_entry(synthetic.birth("141305", rng), rng)
    removal = synthetic.fuhyo_follow(entry, K.FUHYO_NOTICE_KIND_REMOVAL, rng)
    for change in (entry, removal):
        assert (
            clients.submit_fuhyo_change(network.info, change) == common_pb2.CHANGE_OUTCOME_APPLIED
        )
    assert clients.submit_fuhyo_change(network.info, removal) == (  # same id: a no-op
        common_pb2.CHANGE_OUTCOME_DUPLICATE
    )
    second = synthetic.fuhyo_follow(removal, K.FUHYO_NOTICE_KIND_REMOVAL, rng)
    assert _refused(lambda: clients.submit_fuhyo_change(network.info, second)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REMOVAL_OF_REMOVED_PERSON",
    )
    code = entry.record.juminhyo_code
    wait_for(lambda: len(fuhyo_versions_of(network, "national", code)) == 2)
    assert [v.status for v in fuhyo_versions_of(network, "national", code)] == [
        fuhyo_pb.FUHYO_STATUS_DOMESTIC,
        fuhyo_pb.FUHYO_STATUS_REMOVED,
    ]


def test_a_fuhyo_of_another_municipality_is_refused_at_the_cs(network: LocalNetwork) -> None:
    rng = random.Random(12)
    entry = synthetic.fuhyo_entry(synthetic.birth("141003", rng), rng)
    entry.municipality_code = entry.record.keeping_municipality_code = "141305"
    with network.client_channel("cs-141003", "register-141003") as channel:
        stub = cs_service_pb2_grpc.CsServiceStub(channel)
        code, reason = _refused(
            lambda: stub.SubmitFuhyoChange(cs_service_pb2.SubmitFuhyoChangeRequest(change=entry))
        )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "WRONG_MUNICIPALITY")


def _delivery_state(net: LocalNetwork, cs: str, change_id: str) -> int:
    """The CS's delivery state of one of its changes (cs_service DeliveryState)."""
    with net.client_channel(cs, "register-" + cs.removeprefix("cs-")) as channel:
        reply = cs_service_pb2_grpc.CsServiceStub(channel).GetChangeStatus(
            cs_service_pb2.GetChangeStatusRequest(change_id=change_id), timeout=5
        )
    return int(reply.state)


def test_a_fuhyo_moving_municipality_waits_for_the_removal_then_flows_in_order(
    network: LocalNetwork,
) -> None:
    rng = random.Random(13)
    kept = synthetic.fuhyo_entry(synthetic.birth("141003", rng), rng)
    clients.submit_fuhyo_change(network.info, kept)
    code = kept.record.juminhyo_code
    wait_for(lambda: len(fuhyo_versions_of(network, "national", code)) == 1)
    # 転籍 from 横浜市 to 川崎市: 川崎市's entry, and a correction after it, reach the fuhyo
    # server before 横浜市's removal. They are held, not refused.
    entry = synthetic.fuhyo_follow(kept, K.FUHYO_NOTICE_KIND_ENTRY, rng)
    entry.municipality_code = entry.record.keeping_municipality_code = "141305"
    entry.record.address.CopyFrom(common_pb2.Address(municipality_code="141305", text="駅前2番"))
    correction = synthetic.fuhyo_follow(entry, K.FUHYO_NOTICE_KIND_CORRECTION, rng)
    correction.record.address.text = "駅前2番3号"
    for change in (entry, correction):
        clients.submit_fuhyo_change(network.info, change)
    held = cs_service_pb2.DELIVERY_STATE_HELD
    wait_for(
        lambda: all(
            _delivery_state(network, "cs-141305", c.change_id) == held for c in (entry, correction)
        )
    )
    assert len(fuhyo_versions_of(network, "fuhyo-14", code)) == 1
    removal = synthetic.fuhyo_follow(kept, K.FUHYO_NOTICE_KIND_REMOVAL, rng)
    clients.submit_fuhyo_change(network.info, removal)
    for node in ("fuhyo-14", "national"):
        wait_for(lambda n=node: len(fuhyo_versions_of(network, n, code)) == 4, timeout=30)
        assert [
            (v.keeping_municipality_code, v.status) for v in fuhyo_versions_of(network, node, code)
        ] == [
            ("141003", fuhyo_pb.FUHYO_STATUS_DOMESTIC),
            ("141003", fuhyo_pb.FUHYO_STATUS_REMOVED),
            ("141305", fuhyo_pb.FUHYO_STATUS_DOMESTIC),
            ("141305", fuhyo_pb.FUHYO_STATUS_DOMESTIC),
        ]
        assert fuhyo_versions_of(network, node, code)[-1].address_text == "駅前2番3号"
    delivered = cs_service_pb2.DELIVERY_STATE_DELIVERED
    wait_for(
        lambda: all(
            _delivery_state(network, "cs-141305", c.change_id) == delivered
            for c in (entry, correction)
        ),
        timeout=30,
    )


# -- provision and the narrow link -----------------------------------------------------------
def test_an_organ_gets_an_emigrants_record_with_my_number_under_a_lawful_task(
    network: LocalNetwork, emigrant: Person
) -> None:
    q = _tax_query(emigrant.code)
    (record,) = clients.ask_fuhyo(network.info, TAX, q).records
    assert record.my_number == emigrant.my_number
    assert pb.RECORD_ITEM_MY_NUMBER in record.items
    assert record.record.status == fuhyo_pb.FUHYO_STATUS_EMIGRATED
    assert record.record.last_domestic_address
    # Both servers logged it: the prefecture the link, the fuhyo server record and number.
    (link,) = _link_rows(network, q.request_id)
    assert (link.outcome, link.items_given) == ("provided", "my_number")
    given = {r.items_given: r.reason for r in provision_rows(network, "fuhyo-14", q.request_id)}
    assert given["my_number"] == "VIA_LINK"
    assert "juminhyo_code" in next(k for k in given if k != "my_number")


def test_an_emigrant_found_by_4_information_gets_the_my_number_the_organ_signed_for(
    network: LocalNetwork, emigrant: Person
) -> None:
    """The prefecture matches the organ's signed 4 information against its own record."""
    born = emigrant.born.record
    four = pb.FourInformation(name_kanji=born.name_kanji, birth_date=born.birth_date)
    q = clients.query("fuhyo5-prefectural-tax", four=four)
    (record,) = clients.ask_fuhyo(network.info, TAX, q).records
    assert record.my_number == emigrant.my_number
    # The same search under another's birth date names nobody the prefecture would answer.
    wrong = pb.FourInformation(name_kanji=born.name_kanji, birth_date="1901-01-01")
    assert not clients.ask_fuhyo(network.info, TAX, clients.query(TAX_TASK, four=wrong)).records


def test_an_organ_that_did_not_sign_its_query_gets_no_my_number(
    network: LocalNetwork, emigrant: Person
) -> None:
    q = _tax_query(emigrant.code)
    with network.client_channel("fuhyo-14", TAX) as channel:
        reply = fuhyo_grpc.FuhyoServiceStub(channel).QueryFuhyoRecords(
            fuhyo_pb.QueryFuhyoRecordsRequest(query=q), timeout=10
        )
    (record,) = reply.records
    assert (record.my_number, record.my_number_withheld) == ("", "ORGAN_PROOF_MISSING")
    (link,) = _link_rows(network, q.request_id)
    assert (link.outcome, link.reason) == ("refused", "ORGAN_PROOF_MISSING")


def test_a_failed_delivery_is_resent_from_the_store_then_confirmation_deletes_it(
    network: LocalNetwork, emigrant: Person
) -> None:
    q = _tax_query(emigrant.code)
    first = clients.ask_fuhyo(network.info, TAX, q).records[0].my_number
    again = clients.ask_fuhyo(network.info, TAX, q).records[0].my_number  # the answer was lost
    assert first == again == emigrant.my_number
    assert len(_link_rows(network, q.request_id)) == 1  # the prefecture was asked once
    reasons = [r.reason for r in provision_rows(network, "fuhyo-14", q.request_id)]
    assert "RESENT" in reasons
    assert _held(network) >= 1
    assert clients.confirm_my_number(network.info, TAX, q.request_id) is True
    assert clients.confirm_my_number(network.info, TAX, q.request_id) is False
    # Another organ cannot confirm (or read) a request that is not its own.
    assert clients.confirm_my_number(network.info, PASSPORT, q.request_id) is False


def test_the_temporary_store_is_empty_after_the_ttl(
    network: LocalNetwork, emigrant: Person
) -> None:
    q = _tax_query(emigrant.code)
    assert clients.ask_fuhyo(network.info, TAX, q).records[0].my_number
    assert _held(network) >= 1
    wait_for(lambda: _held(network) == 0, timeout=TTL_S * 4)
    # After expiry the same request asks the prefecture again (nothing left to re-send).
    clients.ask_fuhyo(network.info, TAX, q)
    assert len(_link_rows(network, q.request_id)) == 2


def test_a_task_without_my_number_is_refused_it(network: LocalNetwork, emigrant: Person) -> None:
    asked = clients.query("fuhyo5-passport", juminhyo_code=emigrant.code, items=["my_number"])
    assert _refused(lambda: clients.ask_fuhyo(network.info, PASSPORT, asked)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ITEM_NOT_ALLOWED_FOR_TASK",
    )
    assert last_audit_reason(network, "fuhyo-14") == "ITEM_NOT_ALLOWED_FOR_TASK"
    (row,) = provision_rows(network, "fuhyo-14", asked.request_id)
    assert (row.outcome, row.reason) == ("refused", "ITEM_NOT_ALLOWED_FOR_TASK")
    # The same organ under its own task gets the record, without a My Number.
    lawful = clients.query("fuhyo5-passport", juminhyo_code=emigrant.code)
    (record,) = clients.ask_fuhyo(network.info, PASSPORT, lawful).records
    assert (record.my_number, record.my_number_withheld) == ("", "")
    assert record.record.name_kanji == emigrant.fuhyo.record.name_kanji
    assert not _link_rows(network, lawful.request_id)
    # And the tax office may not use the passport task.
    other = clients.query("fuhyo5-passport", juminhyo_code=emigrant.code)
    assert _refused(lambda: clients.ask_fuhyo(network.info, TAX, other))[1] == "TASK_NOT_FOR_CALLER"


def test_no_link_for_a_person_who_did_not_emigrate(
    network: LocalNetwork, stay_at_home: Person
) -> None:
    q = _tax_query(stay_at_home.code)
    (record,) = clients.ask_fuhyo(network.info, TAX, q).records
    assert (record.my_number, record.my_number_withheld) == ("", "PERSON_NOT_EMIGRANT")
    assert not _link_rows(network, q.request_id)


def test_a_link_refusal_is_in_both_logs_of_both_servers(network: LocalNetwork) -> None:
    """Emigrated on the fuhyo file, but the prefecture's record shows no emigration."""
    person = Person(network, "141003", 3)
    person.emigrate(resident_record=False)
    person.settled("fuhyo-14", 2, 1)
    q = _tax_query(person.code)
    (record,) = clients.ask_fuhyo(network.info, TAX, q).records
    assert (record.my_number, record.my_number_withheld) == ("", "PERSON_NOT_EMIGRANT")
    (link,) = _link_rows(network, q.request_id)
    assert (link.outcome, link.reason) == ("refused", "PERSON_NOT_EMIGRANT")
    assert last_audit_reason(network, "prefecture-14") == "PERSON_NOT_EMIGRANT"
    assert last_audit_reason(network, "fuhyo-14") == "PERSON_NOT_EMIGRANT"
    refused = [
        r for r in provision_rows(network, "fuhyo-14", q.request_id) if r.outcome == "refused"
    ]
    assert [r.reason for r in refused] == ["PERSON_NOT_EMIGRANT"]
    given = provision_rows(network, "fuhyo-14", q.request_id)
    assert not any(r.outcome == "provided" and r.items_given == "my_number" for r in given)


def test_another_prefectures_emigrant_comes_from_the_national_fuhyo_server(
    network: LocalNetwork,
) -> None:
    tokyo = Person(network, "131016", 4)
    tokyo.emigrate()
    tokyo.settled("fuhyo-13", 2, 2)
    q = _tax_query(tokyo.code)
    answer = clients.ask_fuhyo(network.info, TAX, q)
    assert answer.answered_by_national
    (record,) = answer.records
    assert record.record.status == fuhyo_pb.FUHYO_STATUS_EMIGRATED
    assert (record.my_number, record.my_number_withheld) == ("", "NOT_OF_THIS_PREFECTURE")
    (national,) = provision_rows(network, "national", q.request_id)
    assert (national.outcome, national.recipient) == (
        "provided",
        network.info.clients[TAX].spiffe_id,
    )


def test_the_link_refuses_callers_other_than_the_fuhyo_server(network: LocalNetwork) -> None:
    """The real fuhyo-13 node's identity, a CS, an organ: all refused by prefecture-14."""
    for creds in (
        node_credentials(network, "fuhyo-13"),
        node_credentials(network, "cs-141003"),
        client_credentials(network, TAX),
    ):
        with channel_as(network, "prefecture-14", creds) as channel:
            stub = link_grpc.MyNumberLinkServiceStub(channel)
            assert _refused(
                lambda s=stub: s.GetMyNumberForEmigrant(
                    link_pb.GetMyNumberForEmigrantRequest(), timeout=5
                )
            ) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ADMITTED")


# -- one trace, and no personal data left behind -------------------------------------------
def _spans(net: LocalNetwork, node: str) -> list[dict[str, Any]]:
    path = Path(net.node_info(node).trace_file)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_one_trace_organ_fuhyo_prefecture(network: LocalNetwork, emigrant: Person) -> None:
    clients.ask_fuhyo(network.info, TAX, _tax_query(emigrant.code))

    def trace() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        queries = [
            s for s in _spans(network, "fuhyo-14") if s["name"].endswith("/QueryFuhyoRecords")
        ]
        if not queries:
            return None
        trace_id = queries[-1]["context"]["trace_id"]
        links = [
            s
            for s in _spans(network, "prefecture-14")
            if s["context"]["trace_id"] == trace_id and s["name"].endswith("GetMyNumberForEmigrant")
        ]
        return (queries[-1], links) if links else None

    query_span, (link_span,) = wait_for(trace)
    fuhyo_spans = {s["context"]["span_id"]: s for s in _spans(network, "fuhyo-14")}
    client = fuhyo_spans[link_span["parent_id"]]
    assert client["kind"] == "SpanKind.CLIENT"
    assert client["parent_id"] == query_span["context"]["span_id"]


def test_the_my_number_is_never_in_fuhyo_tables_logs_or_spans(
    network: LocalNetwork, emigrant: Person
) -> None:
    q = _tax_query(emigrant.code)
    assert clients.ask_fuhyo(network.info, TAX, q).records[0].my_number == emigrant.my_number
    fuhyo = network.node_dir("fuhyo-14")
    engine = node_db(network, "fuhyo-14")
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table}"').all()
            assert emigrant.my_number not in repr(rows), table
    engine.dispose()
    secret_values = [emigrant.my_number]
    personal = [emigrant.code, emigrant.fuhyo.record.name_kanji, emigrant.fuhyo.record.birth_date]
    spans_settled(network, ("fuhyo-14", "prefecture-14"))
    files = [fuhyo / "spans.jsonl", fuhyo / "node.log", _store(network)]
    files += [network.node_dir("prefecture-14") / n for n in ("spans.jsonl", "node.log")]
    for path in files:
        data = path.read_bytes()
        for value in secret_values:
            assert value.encode() not in data, path.name
        if path.suffix != ".db":
            for value in personal:
                assert value.encode() not in data, path.name


def test_an_unknown_request_id_format_is_invalid(network: LocalNetwork) -> None:
    assert _refused(lambda: clients.confirm_my_number(network.info, TAX, "not-a-uuid")) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELD",
    )
    assert clients.confirm_my_number(network.info, TAX, str(uuid.uuid4())) is False


def test_the_up_demo_shows_the_my_number_given_and_refused(
    network: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_fuhyo(network.info)
    out = capsys.readouterr().out
    assert "My Number received (12 digits)" in out
    assert "temporary copy deleted: True" in out
    assert "refused PERMISSION_DENIED [ITEM_NOT_ALLOWED_FOR_TASK]" in out
