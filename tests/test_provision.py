"""Provision on the real network: every key, the minimum conditions, the catalogue's refusals,
the national fallback, bulk provision, disclosure, statistics and the provision log."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from juki.v1 import common_pb2, envelope_pb2, national_service_pb2
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.client import calls as clients
from jukinet.client.calls import submit_change
from jukinet.core.clock import fiscal_year
from jukinet.core.errors import error_info
from jukinet.core.methods import QUERY_FOR_PREFECTURE
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.provision.catalogue import ITEM_NAMES, default_catalogue
from jukinet.records.kana import seion
from jukinet.storage.schema import provision_log
from tests.helpers.grpcurl import grpcurl_binary
from tests.helpers.network import (
    channel_as,
    last_audit_reason,
    node_credentials,
    node_db,
    node_sealer,
    provision_rows,
    versions,
    wait_for,
)

PASSPORT = "organ-14-passport-centre"


@pytest.fixture(scope="module")
def people(network: LocalNetwork) -> dict[str, common_pb2.ResidentRecord]:
    """Three residents: 横浜市 and 川崎市 (prefecture 14), 千代田区 (prefecture 13)."""
    rng = random.Random(5150)
    births = {
        "yokohama": synthetic.birth("141003", rng),
        "kawasaki": synthetic.birth("141305", rng),
        "tokyo": synthetic.birth("131016", rng),
    }
    for change in births.values():
        submit_change(network.info, change)
    for change in births.values():
        wait_for(lambda c=change: versions(network, "national", c.record.juminhyo_code))
    return {k: c.record for k, c in births.items()}


def _ask(net: LocalNetwork, client: str, q: pb.ResidentQuery) -> pb.QueryResidentsResponse:
    return clients.ask(net.info, client, q)


def _refusal(net: LocalNetwork, client: str, q: pb.ResidentQuery) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _ask(net, client, q)
    return caught.value


def test_by_code_gives_only_the_tasks_items(network: LocalNetwork, people: Any) -> None:
    person = people["yokohama"]
    answer = _ask(
        network, PASSPORT, clients.query("pref5-passport", juminhyo_code=person.juminhyo_code)
    )
    assert len(answer.records) == 1 and not answer.answered_by_national
    got = answer.records[0]
    task = default_catalogue().tasks["pref5-passport"]
    assert set(got.items) == set(task.items)
    assert got.record.juminhyo_code == person.juminhyo_code
    assert got.record.name_kanji == person.name_kanji
    assert got.record.address.text == person.address.text
    assert got.record.my_number == "", "the passport task may not receive the My Number"
    assert got.change_reason == common_pb2.CHANGE_REASON_BIRTH and not got.removed


def test_items_asked_for_narrow_the_answer(network: LocalNetwork, people: Any) -> None:
    person = people["yokohama"]
    q = clients.query(
        "pref5-passport", juminhyo_code=person.juminhyo_code, items=["name", "birth_date"]
    )
    got = _ask(network, PASSPORT, q).records[0]
    assert [ITEM_NAMES[i] for i in got.items] == ["name", "birth_date"]
    assert got.record.name_kana == person.name_kana and got.record.birth_date == person.birth_date
    assert got.record.juminhyo_code == "" and not got.record.HasField("address")


def test_by_my_number_under_a_my_number_act_task(network: LocalNetwork, people: Any) -> None:
    person = people["kawasaki"]
    q = clients.query("pref5-disability-certificate", my_number=person.my_number)
    got = _ask(network, "organ-14-welfare-office", q).records
    assert [r.record.juminhyo_code for r in got] == [person.juminhyo_code]
    assert got[0].record.my_number == person.my_number


@pytest.mark.parametrize(
    "parts",
    [
        {"name_kana": True, "birth_date": True},
        {"name_kanji": True, "birth_date": True, "sex": True},
        {"name_kana": True, "municipality_code": True},
        {"name_kanji": True, "municipality_code": True, "address_text": True},
    ],
    ids=["kana+birth", "kanji+birth+sex", "kana+address", "kanji+address-text"],
)
def test_by_four_information(network: LocalNetwork, people: Any, parts: dict[str, bool]) -> None:
    person = people["yokohama"]
    values = {
        "name_kana": person.name_kana,
        "name_kanji": person.name_kanji,
        "birth_date": person.birth_date,
        "sex": "male" if person.sex == common_pb2.SEX_MALE else "female",
        "municipality_code": person.address.municipality_code,
        "address_text": person.address.text[:3],
    }
    four = clients.four_information(**{k: values[k] for k in parts})
    got = _ask(network, PASSPORT, clients.query("pref5-passport", four=four)).records
    assert person.juminhyo_code in [r.record.juminhyo_code for r in got]


def test_four_information_compares_search_kana(network: LocalNetwork, people: Any) -> None:
    person = people["yokohama"]
    # The search form (清音化かな: no voiced marks, no small kana) finds the same person.
    four = clients.four_information(name_kana=seion(person.name_kana), birth_date=person.birth_date)
    got = _ask(network, PASSPORT, clients.query("pref5-passport", four=four)).records
    assert person.juminhyo_code in [r.record.juminhyo_code for r in got]


def test_wrong_sex_matches_nobody(network: LocalNetwork, people: Any) -> None:
    person = people["yokohama"]
    other = "female" if person.sex == common_pb2.SEX_MALE else "male"
    four = clients.four_information(
        name_kana=person.name_kana, birth_date=person.birth_date, sex=other
    )
    assert not _ask(network, PASSPORT, clients.query("pref5-passport", four=four)).records


@pytest.mark.parametrize(
    "parts",
    [{"name_kana": True}, {"name_kanji": True, "sex": True}, {"birth_date": True, "sex": True}],
    ids=["name-alone", "name+sex", "no-name"],
)
def test_four_information_minimum_conditions(
    network: LocalNetwork, people: Any, parts: dict[str, bool]
) -> None:
    person = people["yokohama"]
    values = {
        "name_kana": person.name_kana,
        "name_kanji": person.name_kanji,
        "birth_date": person.birth_date,
        "sex": "female",
    }
    four = clients.four_information(**{k: values[k] for k in parts})
    error = _refusal(network, PASSPORT, clients.query("pref5-passport", four=four))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "QUERY_TOO_BROAD"


def test_other_prefectures_resident_is_answered_by_national(
    network: LocalNetwork, people: Any
) -> None:
    person = people["tokyo"]
    q = clients.query("pref5-passport", juminhyo_code=person.juminhyo_code)
    answer = _ask(network, PASSPORT, q)
    assert answer.answered_by_national
    assert [r.record.juminhyo_code for r in answer.records] == [person.juminhyo_code]
    assert answer.records[0].record.my_number == ""
    # Both servers logged it, for the organ, under the request's id.
    national = provision_rows(network, "national", q.request_id)
    assert [(r.outcome, r.recipient, r.caller) for r in national] == [
        (
            "provided",
            network.info.clients[PASSPORT].spiffe_id,
            network.node_info("prefecture-14").spiffe_id,
        )
    ]
    local = provision_rows(network, "prefecture-14", q.request_id)
    assert [(r.outcome, r.reason) for r in local] == [("provided", "ANSWERED_BY_NATIONAL")]


def test_a_task_not_wide_area_is_not_forwarded(network: LocalNetwork, people: Any) -> None:
    person = people["tokyo"]
    q = clients.query("pref5-disability-certificate", juminhyo_code=person.juminhyo_code)
    answer = _ask(network, "organ-14-welfare-office", q)
    assert not answer.records and not answer.answered_by_national


def test_national_agency_under_table_1(network: LocalNetwork, people: Any) -> None:
    person = people["tokyo"]
    q = clients.query("nat1-pension", my_number=person.my_number)
    got = _ask(network, "agency-pension-service", q).records
    assert [r.record.my_number for r in got] == [person.my_number]


def test_a_survival_check_by_four_information_finds_a_death(network: LocalNetwork) -> None:
    """生存確認: the pension service searches by 4 information for a person who died. Its task
    asks after removed persons: the death is the answer, marked removed with its reason and
    date. A task that does not (the passport office's) finds no one."""
    rng = random.Random(5151)
    born = synthetic.birth("141305", rng)
    died = synthetic.follow(born, common_pb2.CHANGE_REASON_DEATH, rng=rng)
    for change in (born, died):
        submit_change(network.info, change)
    code = born.record.juminhyo_code
    wait_for(lambda: len(versions(network, "national", code)) == 2)
    four = clients.four_information(
        name_kanji=born.record.name_kanji, birth_date=born.record.birth_date
    )
    answer = _ask(network, "agency-pension-service", clients.query("nat1-pension", four=four))
    assert [r.record.juminhyo_code for r in answer.records] == [code]
    found = answer.records[0]
    assert found.removed and found.change_reason == common_pb2.CHANGE_REASON_DEATH
    assert found.change_date == died.change_date
    passport = _ask(network, "agency-mofa-passport", clients.query("nat1-passport", four=four))
    assert not passport.records


REFUSALS = [
    ("unknown-task", PASSPORT, "no-such-task", {}, "TASK_UNKNOWN"),
    ("organ-not-listed", "organ-14-npo-office", "pref5-prefectural-tax", {}, "TASK_NOT_FOR_CALLER"),
    (
        "key-not-allowed",
        PASSPORT,
        "pref5-passport",
        {"by": "my_number"},
        "KEY_NOT_ALLOWED_FOR_TASK",
    ),
    (
        "item-not-allowed",
        PASSPORT,
        "pref5-passport",
        {"items": ["my_number"]},
        "ITEM_NOT_ALLOWED_FOR_TASK",
    ),
    ("table-1-at-prefecture", PASSPORT, "nat1-passport", {}, "TASK_NOT_FOR_CALLER"),
    (
        "agency-with-prefecture-task",
        "agency-mofa-passport",
        "pref5-passport",
        {},
        "TASK_NOT_FOR_CALLER",
    ),
]


@pytest.mark.parametrize(
    ("client", "task", "how", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_catalogue_refusals_are_logged_without_identifiers(
    network: LocalNetwork, people: Any, client: str, task: str, how: dict[str, Any], reason: str
) -> None:
    person = people["yokohama"]
    key = (
        {"my_number": person.my_number}
        if how.get("by") == "my_number"
        else {"juminhyo_code": person.juminhyo_code}
    )
    q = clients.query(task, items=how.get("items", ()), **key)
    node = clients.provider_of(network.info, client).name
    error = _refusal(network, client, q)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(error).reason == reason
    assert person.juminhyo_code not in error.details() and person.my_number not in error.details()
    rows = provision_rows(network, node, q.request_id)
    assert [(r.outcome, r.reason) for r in rows] == [("refused", reason)]
    assert rows[0].key_hash and person.juminhyo_code not in rows[0].key_hash
    assert last_audit_reason(network, node) == reason


def test_organ_of_another_prefecture_is_refused_by_policy(
    network: LocalNetwork, people: Any
) -> None:
    q = clients.query("pref5-passport", juminhyo_code=people["yokohama"].juminhyo_code)
    with network.client_channel("prefecture-14", "organ-13-passport-centre") as channel:
        stub = pb_grpc.ProvisionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.QueryResidents(pb.QueryResidentsRequest(query=q), timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).reason == "CALLER_NOT_ADMITTED"


def _forward(network: LocalNetwork, prefecture: str, organ: str, q: pb.ResidentQuery) -> Any:
    sealer = node_sealer(network, prefecture)
    national = network.node_info("national").spiffe_id
    envelope = sealer.seal(
        national_service_pb2.ForwardedQuery(query=q, organ=organ),
        recipient=national,
        method=QUERY_FOR_PREFECTURE,
    )
    with channel_as(network, "national", node_credentials(network, prefecture)) as channel:
        reply = national_grpc.NationalServiceStub(channel).QueryForPrefecture(
            national_service_pb2.QueryForPrefectureRequest(envelope=envelope), timeout=5
        )
    return sealer.open(
        reply.envelope, pb.QueryResidentsResponse, peer=national, method=QUERY_FOR_PREFECTURE
    )[1]


def test_a_prefecture_may_forward_only_for_its_own_organs(
    network: LocalNetwork, people: Any
) -> None:
    q = clients.query("pref5-passport", juminhyo_code=people["tokyo"].juminhyo_code)
    own = network.info.clients[PASSPORT].spiffe_id
    assert len(_forward(network, "prefecture-14", own, q).records) == 1
    with pytest.raises(grpc.RpcError) as caught:
        _forward(
            network,
            "prefecture-13",
            own,
            clients.query("pref5-passport", juminhyo_code=people["tokyo"].juminhyo_code),
        )
    assert error_info(caught.value).reason == "ORGAN_NOT_OF_CALLER"


def test_a_forwarded_query_must_be_sealed_for_the_method(network: LocalNetwork) -> None:
    creds = node_credentials(network, "prefecture-14")
    with channel_as(network, "national", creds) as channel, pytest.raises(grpc.RpcError) as caught:
        national_grpc.NationalServiceStub(channel).QueryForPrefecture(
            national_service_pb2.QueryForPrefectureRequest(
                envelope=envelope_pb2.SealedEnvelope(header=b"\xff")
            ),
            timeout=5,
        )
    assert error_info(caught.value).reason == "ENVELOPE_MALFORMED"


def test_provision_log_holds_no_identifiers(network: LocalNetwork, people: Any) -> None:
    _ask(
        network,
        PASSPORT,
        clients.query("pref5-passport", juminhyo_code=people["kawasaki"].juminhyo_code),
    )
    text = json.dumps(
        [list(map(str, r)) for r in provision_rows(network, "prefecture-14")], ensure_ascii=False
    )
    for person in people.values():
        for value in (person.juminhyo_code, person.my_number, person.name_kanji, person.name_kana):
            assert value not in text


def test_bulk_provision_streams_one_answer_per_row(network: LocalNetwork, people: Any) -> None:
    rows = [
        clients.query("pref5-passport", juminhyo_code=people["yokohama"].juminhyo_code),
        clients.query("pref5-passport", juminhyo_code="12345678901"),  # bad check digit
        clients.query("pref5-passport", juminhyo_code=people["tokyo"].juminhyo_code),
        clients.query(
            "pref5-passport",
            four=clients.four_information(
                name_kana=people["kawasaki"].name_kana, birth_date=people["kawasaki"].birth_date
            ),
        ),
        clients.query(
            "pref5-npo", four=clients.four_information(name_kana="ア", birth_date="2000-01-01")
        ),
    ]
    answers = list(clients.bulk(network.info, PASSPORT, "pref5-passport", rows))
    assert [a.request_id for a in answers] == [r.request_id for r in rows]
    assert [a.refusal_reason for a in answers] == ["", "INVALID_FIELD", "", "", "BULK_ROW_MISMATCH"]
    assert answers[0].records[0].record.juminhyo_code == people["yokohama"].juminhyo_code
    assert answers[2].records[0].record.juminhyo_code == people["tokyo"].juminhyo_code
    assert people["kawasaki"].juminhyo_code in [r.record.juminhyo_code for r in answers[3].records]
    logged = {r.request_id for r in provision_rows(network, "prefecture-14")}
    assert {r.request_id for r in rows} <= logged


def test_bulk_above_threshold_needs_one_approval(network: LocalNetwork, people: Any) -> None:
    organ = network.info.clients[PASSPORT].spiffe_id
    row = clients.query("pref5-passport", juminhyo_code=people["yokohama"].juminhyo_code)

    def run(approval: str) -> list[pb.BulkQueryResidentsResponse]:
        header = pb.BulkHeader(
            task_id="pref5-passport", operator_id="c1", declared_rows=5000, approval_id=approval
        )
        with network.client_channel("prefecture-14", PASSPORT) as channel:
            stub = pb_grpc.ProvisionServiceStub(channel)
            requests = iter(
                [pb.BulkQueryResidentsRequest(header=header), pb.BulkQueryResidentsRequest(row=row)]
            )
            return list(stub.BulkQueryResidents(requests, timeout=10))

    with pytest.raises(grpc.RpcError) as caught:
        run("")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(caught.value).reason == "BULK_APPROVAL_REQUIRED"
    with clients.admin(network.info, network.node_info("prefecture-14")) as admin:
        approval = admin.ApproveBulkProvision(
            pb.ApproveBulkProvisionRequest(
                recipient=organ, task_id="pref5-passport", max_rows=5000
            ),
            timeout=5,
        ).approval_id
    assert len(run(approval)) == 1
    with pytest.raises(grpc.RpcError) as caught:
        run(approval)  # used once already
    assert error_info(caught.value).reason == "BULK_APPROVAL_REQUIRED"


def test_disclosure_lists_who_received_the_record(network: LocalNetwork, people: Any) -> None:
    person = people["kawasaki"]
    _ask(
        network,
        "organ-14-welfare-office",
        clients.query("pref5-public-assistance", juminhyo_code=person.juminhyo_code),
    )
    with clients.admin(network.info, network.node_info("prefecture-14")) as admin:
        reply = admin.DiscloseRecord(
            pb.DiscloseRecordRequest(juminhyo_code=person.juminhyo_code), timeout=5
        )
        with pytest.raises(grpc.RpcError) as caught:
            admin.DiscloseRecord(
                pb.DiscloseRecordRequest(juminhyo_code=people["tokyo"].juminhyo_code), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert reply.provision_count >= 1
    assert person.name_kanji in reply.document and person.juminhyo_code in reply.document
    assert "organ/14/welfare-office" in reply.document
    assert default_catalogue().tasks["pref5-public-assistance"].title in reply.document


def test_disclosure_is_for_operators_only(network: LocalNetwork, people: Any) -> None:
    channel = network.client_channel("prefecture-14", PASSPORT)
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.ProvisionAdminServiceStub(channel).DiscloseRecord(
            pb.DiscloseRecordRequest(juminhyo_code=people["yokohama"].juminhyo_code), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_statistics_per_task_and_organ(network: LocalNetwork, people: Any) -> None:
    for _ in range(3):
        _ask(
            network,
            "organ-14-board-of-education",
            clients.query(
                "pref6-special-support-school", juminhyo_code=people["yokohama"].juminhyo_code
            ),
        )
    # A resident of another prefecture, answered by the national server under 別表第3.
    tokyo = _ask(
        network,
        PASSPORT,
        clients.query("pref5-passport", juminhyo_code=people["tokyo"].juminhyo_code),
    )
    assert tokyo.answered_by_national
    year = fiscal_year(dt.datetime.now(dt.UTC))
    with clients.admin(network.info, network.node_info("prefecture-14")) as admin:
        reply = admin.GetProvisionStatistics(
            pb.GetProvisionStatisticsRequest(fiscal_year=year), timeout=5
        )
        empty = admin.GetProvisionStatistics(
            pb.GetProvisionStatisticsRequest(fiscal_year=year - 5), timeout=5
        )
    board = network.info.clients["organ-14-board-of-education"].spiffe_id
    line = next(c for c in reply.counts if c.task_id == "pref6-special-support-school")
    assert (line.recipient, line.provided, line.table) == (board, 3, "6")
    # National's answers are counted apart, not as the prefecture's own 別表第5 use.
    engine = node_db(network, "prefecture-14")
    with engine.connect() as conn:
        rows = conn.execute(
            select(provision_log.c.reason).where(
                provision_log.c.task_id == "pref5-passport", provision_log.c.outcome == "provided"
            )
        ).all()
    engine.dispose()
    passport = next(c for c in reply.counts if c.task_id == "pref5-passport")
    by_national = sum(r.reason == "ANSWERED_BY_NATIONAL" for r in rows)
    assert passport.provided_by_national == by_national >= 1 and passport.table == "5"
    assert passport.provided == sum(r.reason != "ANSWERED_BY_NATIONAL" for r in rows)
    parsed = list(csv.DictReader(io.StringIO(reply.csv)))
    assert {"task_id": "pref6-special-support-school", "provided": "3"}.items() <= next(
        r for r in parsed if r["task_id"] == "pref6-special-support-school"
    ).items()
    assert "total" in reply.table and "特別支援学校" in reply.table and "別表第6" in reply.table
    assert not empty.counts


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukinet.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_query_and_stats_as_a_new_user_would(network: LocalNetwork, people: Any) -> None:
    net_file = str(network.dir / "network.json")
    person = people["yokohama"]
    done = _cli(
        "query",
        "--network",
        net_file,
        "--as",
        PASSPORT,
        "--task",
        "pref5-passport",
        "--kana",
        person.name_kana,
        "--birth-date",
        person.birth_date,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"][0]["record"]["juminhyo_code"] == person.juminhyo_code
    refused = _cli(
        "query",
        "--network",
        net_file,
        "--as",
        PASSPORT,
        "--task",
        "pref5-passport",
        "--my-number",
        person.my_number,
    )
    assert refused.returncode == 2 and "KEY_NOT_ALLOWED_FOR_TASK" in refused.stderr
    assert person.my_number not in refused.stderr
    stats = _cli("stats", "--network", net_file, "--fiscal-year", "2026", "--csv")
    assert stats.returncode == 0 and stats.stdout.startswith("fiscal_year,task_id")


def test_cli_bulk_file_in_and_out(network: LocalNetwork, people: Any, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(
        "juminhyo_code,name_kana,birth_date\n"
        f"{people['yokohama'].juminhyo_code},,\n"
        f",{people['kawasaki'].name_kana},{people['kawasaki'].birth_date}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    done = _cli(
        "bulk",
        "--network",
        str(network.dir / "network.json"),
        "--as",
        PASSPORT,
        "--task",
        "pref5-passport",
        "--in",
        str(source),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2 and all("refusal_reason" not in x for x in lines)


def test_grpcurl_statistics_as_the_operator(network: LocalNetwork, people: Any) -> None:
    op = network.info.operator
    node = network.node_info("prefecture-14")
    done = subprocess.run(
        [
            grpcurl_binary(),
            "-cacert",
            network.info.trust_bundle,
            "-cert",
            op.cert,
            "-key",
            op.key,
            "-d",
            '{"fiscal_year": 2026}',
            node.address,
            "juki.v1.ProvisionAdminService/GetProvisionStatistics",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "fiscal_year,task_id" in json.loads(done.stdout)["csv"]


@pytest.mark.parametrize("who", ["organ-14-passport-centre", "register-141003", "operator"])
def test_any_identity_reads_the_catalogue_with_grpcurl(network: LocalNetwork, who: str) -> None:
    """ProvisionService/ListTasks: the tasks a vendor's system may ask under, from the node."""
    client = network.info.client(who)
    done = subprocess.run(
        [
            grpcurl_binary(),
            "-cacert", network.info.trust_bundle,
            "-cert", str(client.cert),
            "-key", str(client.key),
            network.node_info("prefecture-14").address,
            "juki.v1.ProvisionService/ListTasks",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = {task["task_id"]: task for task in json.loads(done.stdout)["tasks"]}
    assert set(listed) == set(default_catalogue().tasks)
    passport = listed["pref5-passport"]
    assert passport["table"] == "5" and "passport-centre" in passport["recipients"]
    assert "RECORD_ITEM_MY_NUMBER" not in passport["items"]
    # A survival check's task says it finds removed persons; others leave it out (false).
    assert listed["nat1-pension"]["removed_persons"] is True
    assert "removed_persons" not in passport
